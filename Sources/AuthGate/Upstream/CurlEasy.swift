// CurlEasy: owns one libcurl easy handle. Reusing the handle reuses its TCP/TLS connection,
// which is the point of the upstream pool. Calls block: make them from a BlockingPool thread.
import CCurl
import Foundation

struct HTTPResult: Sendable {
    public var status: Int
    public var body: [UInt8]
}

public enum CurlError: Error, Equatable, CustomStringConvertible {
    case timedOut
    case unreachable(String)
    case responseTooLarge
    case failed(String)

    public var description: String {
        switch self {
        case .timedOut: "upstream timed out"
        case .unreachable(let detail): "upstream unreachable: \(detail)"
        case .responseTooLarge: "upstream response too large"
        case .failed(let detail): "upstream request failed: \(detail)"
        }
    }
}

/// `@unchecked Sendable`: a handle is used by one thread at a time; UpstreamConnection's lock
/// guarantees it, and `close()` is only called once the connection has left the pool.
final class CurlEasy: @unchecked Sendable {
    static let initialized: Bool = {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        return true
    }()

    static let maximumResponseBytes = 1 << 20

    /// Internal so CurlEasy+Streaming (part of this wrapper) can drive it; nothing else touches it.
    var handle: UnsafeMutableRawPointer?
    let timeout: TimeInterval

    public init(timeout: TimeInterval) {
        _ = Self.initialized
        handle = curl_easy_init()
        self.timeout = timeout
    }

    deinit { assert(handle == nil, "CurlEasy deinit before close()") }

    public func close() {
        if let handle { curl_easy_cleanup(handle) }
        handle = nil
    }

    /// Collects the body; a final class so the C callback can reach it through a pointer.
    private final class Sink {
        var bytes: [UInt8] = []
        var overflowed = false
    }

    public func perform(method: String, url: String, headers: [String] = [], body: [UInt8]? = nil) throws(CurlError) -> HTTPResult {
        guard let handle else { throw .failed("handle closed") }
        // Options persist on a handle between requests; clear per-request ones, keep the connection cache.
        curl_easy_reset(handle)
        let sink = Sink()
        let sinkPointer = Unmanaged.passUnretained(sink).toOpaque()
        var list: UnsafeMutablePointer<curl_slist>?
        for header in headers { list = curl_slist_append(list, header) }
        defer { curl_slist_free_all(list) }

        Self.setRequestOptions(handle, url: url, headers: list, connectTimeout: min(timeout, 5))
        ccurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(timeout * 1000))
        ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, sinkPointer)
        ccurl_setopt_write_function(handle) { data, size, count, userdata in
            let sink = Unmanaged<Sink>.fromOpaque(userdata!).takeUnretainedValue()
            let length = size * count
            guard sink.bytes.count + length <= CurlEasy.maximumResponseBytes else {
                sink.overflowed = true
                return 0  // makes curl abort with CURLE_WRITE_ERROR
            }
            if let data { sink.bytes.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length)) }
            return length
        }
        let code: CURLcode = withExtendedLifetime(sink) {
            if let body {
                ccurl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, method)
                return body.withUnsafeBufferPointer { buffer in
                    ccurl_setopt_long(handle, CURLOPT_POSTFIELDSIZE, buffer.count)
                    ccurl_setopt_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: buffer.baseAddress))
                    return curl_easy_perform(handle)
                }
            }
            if method != "GET" { ccurl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, method) }
            return curl_easy_perform(handle)
        }
        guard code == CURLE_OK else {
            if sink.overflowed { throw .responseTooLarge }
            throw Self.error(code)
        }
        var status = 0
        ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResult(status: status, body: sink.bytes)
    }

    /// What every exchange on a handle sets after `curl_easy_reset`: the URL and headers, no
    /// signals (timeouts with threads), a connect timeout, no redirects, HTTP(S) only, keep-alive.
    static func setRequestOptions(_ handle: UnsafeMutableRawPointer, url: String, headers: UnsafeMutablePointer<curl_slist>?, connectTimeout: TimeInterval) {
        ccurl_setopt_string(handle, CURLOPT_URL, url)
        ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(connectTimeout * 1000))
        ccurl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0)
        ccurl_setopt_long(handle, CURLOPT_PROTOCOLS, Int(CURLPROTO_HTTP | CURLPROTO_HTTPS))
        ccurl_setopt_long(handle, CURLOPT_TCP_KEEPALIVE, 1)
        ccurl_setopt_slist(handle, CURLOPT_HTTPHEADER, headers)
    }

    /// Percent-encodes a form or query component (RFC 3986 unreserved characters pass through).
    public static func escape(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(UnicodeScalar(byte))
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }
}
