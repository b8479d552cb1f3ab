// CurlEasy+Streaming: one HTTP exchange on the easy handle with both bodies streamed: the request
// body is pulled from a reader, the response head is handed over as soon as it is complete, and
// the body chunk by chunk as it arrives. Blocking: call from a BlockingPool thread.
import CCurl
import Foundation

/// What a streaming exchange reports and asks while it runs (on the curl thread).
protocol CurlStreamingDelegate: AnyObject {
    /// The final response head. Returns false to have the body discarded (a 401 to retry).
    func curlDidReceiveHead(status: Int, headers: [(name: String, value: String)]) -> Bool
    /// A piece of the body; false aborts the exchange (the client went away).
    func curlDidReceiveBody(_ bytes: UnsafeRawBufferPointer) -> Bool
    /// Fills `buffer` with request body bytes: the count, 0 at the end, nil to abort.
    func curlReadBody(into buffer: UnsafeMutableRawBufferPointer) -> Int?
    /// Polled about once a second and on progress: true aborts (no head before the deadline, cancelled).
    func curlShouldAbort(headReceived: Bool) -> Bool
}

enum CurlRequestBody {
    case none
    /// Sent as it is read from the delegate; `length` nil sends it chunked.
    case streamed(length: Int?)
}

/// Per-exchange state the C callbacks reach through their userdata pointer.
private final class StreamingContext {
    unowned let delegate: any CurlStreamingDelegate
    var headerLines: [(String, String)] = []
    var status = 0
    var headReceived = false
    var deliverBody = true
    var abortedByDelegate = false

    init(delegate: any CurlStreamingDelegate) { self.delegate = delegate }
}

extension CurlEasy {
    /// Runs the exchange; returns once it is over. Throws `.timedOut` when the delegate aborted
    /// before the head (its deadline), `.unreachable` for network failures.
    func stream(method: String, url: String, headers: [String], body: CurlRequestBody, connectTimeout: TimeInterval, delegate: any CurlStreamingDelegate) throws(CurlError) {
        guard let handle else { throw .failed("handle closed") }
        curl_easy_reset(handle)
        let context = StreamingContext(delegate: delegate)
        let pointer = Unmanaged.passUnretained(context).toOpaque()
        var list: UnsafeMutablePointer<curl_slist>?
        // No "Expect: 100-continue" round trip before uploads.
        for header in headers + ["Expect:"] { list = curl_slist_append(list, header) }
        defer { curl_slist_free_all(list) }

        Self.setRequestOptions(handle, url: url, headers: list, connectTimeout: connectTimeout)
        ccurl_setopt_pointer(handle, CURLOPT_HEADERDATA, pointer)
        ccurl_setopt_header_function(handle) { data, size, count, userdata in
            let context = Unmanaged<StreamingContext>.fromOpaque(userdata!).takeUnretainedValue()
            let length = size * count
            let line = String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
            if line.hasPrefix("HTTP/") {
                // A new head ("HTTP/1.1 200 OK"): an interim 1xx may have come before.
                context.headerLines = []
                context.status = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            } else if line == "\r\n" || line == "\n" {
                // 1xx heads are not the answer; the first final one is.
                if context.status >= 200 && !context.headReceived {
                    context.headReceived = true
                    context.deliverBody = context.delegate.curlDidReceiveHead(status: context.status, headers: context.headerLines)
                }
            } else if let colon = line.firstIndex(of: ":") {
                let name = String(line[..<colon]).trimmingCharacters(in: .whitespaces)
                let value = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespacesAndNewlines)
                context.headerLines.append((name, value))
            }
            return length
        }
        ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, pointer)
        ccurl_setopt_write_function(handle) { data, size, count, userdata in
            let context = Unmanaged<StreamingContext>.fromOpaque(userdata!).takeUnretainedValue()
            let length = size * count
            guard context.deliverBody else { return length }
            guard context.delegate.curlDidReceiveBody(UnsafeRawBufferPointer(start: data, count: length)) else {
                context.abortedByDelegate = true
                return 0
            }
            return length
        }
        ccurl_setopt_long(handle, CURLOPT_NOPROGRESS, 0)
        ccurl_setopt_pointer(handle, CURLOPT_XFERINFODATA, pointer)
        ccurl_setopt_xferinfo_function(handle) { userdata, _, _, _, _ in
            let context = Unmanaged<StreamingContext>.fromOpaque(userdata!).takeUnretainedValue()
            guard context.delegate.curlShouldAbort(headReceived: context.headReceived) else { return 0 }
            context.abortedByDelegate = true
            return 1
        }
        switch body {
        case .none:
            if method == "HEAD" {
                ccurl_setopt_long(handle, CURLOPT_NOBODY, 1)
            } else if method != "GET" {
                ccurl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, method)
            }
        case .streamed(let length):
            ccurl_setopt_long(handle, CURLOPT_UPLOAD, 1)
            ccurl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, method)
            ccurl_setopt_off_t(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(length ?? -1))
            ccurl_setopt_pointer(handle, CURLOPT_READDATA, pointer)
            ccurl_setopt_read_function(handle) { buffer, size, count, userdata in
                let context = Unmanaged<StreamingContext>.fromOpaque(userdata!).takeUnretainedValue()
                guard let read = context.delegate.curlReadBody(into: UnsafeMutableRawBufferPointer(start: buffer, count: size * count)) else {
                    context.abortedByDelegate = true
                    return ccurl_readfunc_abort()
                }
                return read
            }
        }
        let code = withExtendedLifetime(context) { curl_easy_perform(handle) }
        guard code == CURLE_OK else {
            if context.abortedByDelegate && !context.headReceived { throw .timedOut }
            throw Self.error(code)
        }
    }

    /// Sorts a failed perform into what the gateway answers.
    static func error(_ code: CURLcode) -> CurlError {
        let text = curl_easy_strerror(code)!
        let message = String(decoding: UnsafeRawBufferPointer(start: text, count: strlen(text)), as: UTF8.self)
        switch code {
        case CURLE_OPERATION_TIMEDOUT: return .timedOut
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_SSL_CONNECT_ERROR,
            CURLE_GOT_NOTHING, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_PARTIAL_FILE:
            return .unreachable(message)
        default: return .failed(message)
        }
    }
}
