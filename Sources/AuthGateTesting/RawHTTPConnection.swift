// RawHTTPConnection: one TCP connection speaking HTTP/1.1 byte by byte, for tests that need what
// URLSession hides: exact request headers, several requests on one connection, streamed or cut-off
// bodies, and whether a response body really ended as its framing promised.
import Foundation
import NIOCore
import NIOPosix

public struct RawHTTPResponse: Sendable {
    public enum Framing: Sendable, Equatable {
        case contentLength(Int)
        case chunked
        /// No length: the body runs until the server closes.
        case untilClose
        /// No body by definition (HEAD, 1xx, 204, 304).
        case none
    }

    public var status: Int
    public var reason: String
    /// In order, names as sent, duplicates kept apart.
    public var headers: [HeaderLine]
    public var framing: Framing
    /// Body bytes received (after de-chunking).
    public var bodySize: Int
    /// SHA-256 of those bytes, lowercase hex.
    public var bodySHA256: String
    /// The first `keepBody` bytes of the body (see `readResponse`).
    public var body: [UInt8]
    /// True when the body ended as its framing promised: every Content-Length byte, the last
    /// chunk, or the close of an unframed body. False when the connection ended first.
    public var complete: Bool
    /// The read error that ended the body early, if one did (e.g. a reset).
    public var readError: String?

    public func header(_ name: String) -> String? { headers.first(name) }
    public func headers(named name: String) -> [String] { headers.all(name) }
    public var text: String { String(decoding: body, as: UTF8.self) }
    /// The kept body as a JSON object (empty when it is not one).
    public var json: [String: Any] { ((try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]) ?? [:] }
}

public struct RawHTTPError: Error, CustomStringConvertible {
    public var description: String
}

public final class RawHTTPConnection {
    public let host: String
    public let port: Int
    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var pending = ByteBuffer()
    private var ended = false
    private var readError: (any Error)?

    private init(host: String, port: Int, inbound: NIOAsyncChannelInboundStream<ByteBuffer>, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) {
        self.host = host
        self.port = port
        self.inbound = inbound.makeAsyncIterator()
        self.outbound = outbound
    }

    /// Connects, runs `body` with the connection, then closes it (also when `body` throws, which
    /// is how a test aborts an exchange midway).
    public static func with<Result: Sendable>(
        port: Int,
        host: String = "127.0.0.1",
        _ body: (RawHTTPConnection) async throws -> Result
    ) async throws -> Result {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                        wrappingChannelSynchronously: channel,
                        configuration: .init(isOutboundHalfClosureEnabled: true)
                    )
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await body(RawHTTPConnection(host: host, port: port, inbound: inbound, outbound: outbound))
        }
    }

    // MARK: Sending

    /// Sends a request and reads its response. `headers` go out exactly as given, after a `Host`
    /// (unless `headers` has one) and before a `Content-Length` for a non-empty body (unless
    /// `headers` frames the body itself).
    public func send(_ method: String, _ target: String, headers: [HeaderLine] = [], body: [UInt8] = [], keepBody: Int = 1 << 20) async throws -> RawHTTPResponse {
        var lines = self.framedHeaders(headers, contentLength: body.isEmpty ? nil : body.count)
        if body.isEmpty, method == "POST" || method == "PUT", headers.first("Content-Length") == nil {
            lines.append(HeaderLine("Content-Length", "0"))
        }
        try await self.writeHead(method, target, lines)
        if !body.isEmpty { try await self.outbound.write(ByteBuffer(bytes: body)) }
        return try await self.readResponse(method: method, keepBody: keepBody)
    }

    /// Sends `bytes` of DownloadPattern as the body, one 64 KiB block at a time (each write waits
    /// for the socket), with Content-Length or chunked; then reads the response.
    public func sendPattern(
        _ method: String,
        _ target: String,
        headers: [HeaderLine] = [],
        bytes: Int,
        chunked: Bool = false,
        keepBody: Int = 1 << 20
    ) async throws -> RawHTTPResponse {
        try await self.writePattern(method, target, headers: headers, bytes: bytes, chunked: chunked)
        return try await self.readResponse(method: method, keepBody: keepBody)
    }

    /// Writes the head and `bytes` of DownloadPattern, without reading an answer (to abort after
    /// it, or to send `stopAfter` bytes of a longer advertised body).
    public func writePattern(_ method: String, _ target: String, headers: [HeaderLine] = [], bytes: Int, chunked: Bool = false, stopAfter: Int? = nil) async throws {
        var lines = headers
        if chunked {
            if headers.first("Transfer-Encoding") == nil { lines.append(HeaderLine("Transfer-Encoding", "chunked")) }
            lines = self.framedHeaders(lines, contentLength: nil)
        } else {
            lines = self.framedHeaders(lines, contentLength: bytes)
        }
        try await self.writeHead(method, target, lines)
        let limit = min(bytes, stopAfter ?? bytes)
        var offset = 0
        while offset < limit {
            let length = min(DownloadPattern.blockSize, limit - offset)
            let block = DownloadPattern.block(offset / DownloadPattern.blockSize, length: length)
            if chunked {
                try await self.outbound.write(ByteBuffer(string: String(length, radix: 16) + "\r\n"))
                try await self.outbound.write(block)
                try await self.outbound.write(ByteBuffer(string: "\r\n"))
            } else {
                try await self.outbound.write(block)
            }
            offset += length
        }
        if chunked, stopAfter == nil { try await self.outbound.write(ByteBuffer(string: "0\r\n\r\n")) }
    }

    /// Writes raw bytes (a hand-made request, a second request pipelined, garbage).
    public func write(_ bytes: [UInt8]) async throws {
        try await self.outbound.write(ByteBuffer(bytes: bytes))
    }

    public func write(_ text: String) async throws {
        try await self.outbound.write(ByteBuffer(string: text))
    }

    /// Half-closes the connection: nothing more is sent, answers can still be read.
    public func finishWriting() {
        self.outbound.finish()
    }

    private func framedHeaders(_ headers: [HeaderLine], contentLength: Int?) -> [HeaderLine] {
        var lines = headers
        if headers.first("Host") == nil { lines.insert(HeaderLine("Host", "\(host):\(port)"), at: 0) }
        if let contentLength, headers.first("Content-Length") == nil, headers.first("Transfer-Encoding") == nil {
            lines.append(HeaderLine("Content-Length", String(contentLength)))
        }
        return lines
    }

    private func writeHead(_ method: String, _ target: String, _ headers: [HeaderLine]) async throws {
        try await self.outbound.write(ByteBuffer(string: Self.head(method, target, headers)))
    }

    private static func head(_ method: String, _ target: String, _ headers: [HeaderLine]) -> String {
        var head = "\(method) \(target) HTTP/1.1\r\n"
        for line in headers { head += "\(line.name): \(line.value)\r\n" }
        return head + "\r\n"
    }

    /// Sends `first` (a whole raw request) and this request in one write, so the server reads
    /// them together, pipelined; reads the first answer, returns the second. Behind a request the
    /// gateway's router answers, a proxied request takes the router's proxy path (AsyncHTTPClient).
    public func sendPipelined(behind first: String, _ method: String, _ target: String, headers: [HeaderLine] = [], body: [UInt8] = []) async throws -> RawHTTPResponse {
        let lines = self.framedHeaders(headers, contentLength: body.isEmpty ? nil : body.count)
        var bytes = ByteBuffer(string: first + Self.head(method, target, lines))
        bytes.writeBytes(body)
        try await self.outbound.write(bytes)
        _ = try await self.readResponse()
        return try await self.readResponse(method: method)
    }

    // MARK: Reading

    /// Reads responses until the connection ends (after `finishWriting`, a server answers what
    /// it was sent and closes): what came, in order; bytes that are not a response end it.
    public func readResponsesUntilClose() async -> [RawHTTPResponse] {
        var responses: [RawHTTPResponse] = []
        while true {
            guard let response = try? await self.readResponse() else { return responses }
            responses.append(response)
            if !response.complete { return responses }
        }
    }

    /// Reads one response (skipping 1xx interim ones). The body is hashed as it arrives and only
    /// its first `keepBody` bytes are kept, so a large download costs no memory. A connection that
    /// ends mid-body gives `complete == false`; one that ends before any status line throws.
    public func readResponse(method: String = "GET", keepBody: Int = 1 << 20) async throws -> RawHTTPResponse {
        var status = 0
        var reason = ""
        var headers: [HeaderLine] = []
        repeat {
            guard let statusLine = try await self.readLine() else {
                throw RawHTTPError(description: "the connection closed before a response\(self.readError.map { ": \($0)" } ?? "")")
            }
            let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let code = Int(parts[1]) else {
                throw RawHTTPError(description: "not an HTTP/1.x status line: \(statusLine)")
            }
            status = code
            reason = parts.count > 2 ? String(parts[2]) : ""
            headers = try await self.readHeaderLines()
        } while (100..<200).contains(status) && status != 101

        let framing: RawHTTPResponse.Framing
        if method == "HEAD" || (100..<200).contains(status) || status == 204 || status == 304 {
            framing = .none
        } else if headers.all("Transfer-Encoding").joined(separator: ",").lowercased().contains("chunked") {
            framing = .chunked
        } else if let length = headers.first("Content-Length").flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) {
            framing = .contentLength(length)
        } else {
            framing = .untilClose
        }

        var sink = BodySink(keep: keepBody)
        let complete: Bool
        switch framing {
        case .none:
            complete = true
        case .contentLength(let length):
            complete = try await self.readBody(length, into: &sink)
        case .untilClose:
            while try await self.fill() {}
            sink.take(&self.pending, self.pending.readableBytes)
            complete = true
        case .chunked:
            complete = try await self.readChunks(into: &sink)
        }
        return RawHTTPResponse(
            status: status,
            reason: reason,
            headers: headers,
            framing: framing,
            bodySize: sink.hasher.count,
            bodySHA256: sink.hasher.finalHex(),
            body: sink.kept,
            complete: complete,
            readError: complete ? nil : self.readError.map { "\($0)" }
        )
    }

    private struct BodySink {
        var hasher = StreamingSHA256()
        var kept: [UInt8] = []
        let keep: Int

        init(keep: Int) { self.keep = keep }

        mutating func take(_ buffer: inout ByteBuffer, _ count: Int) {
            let slice = buffer.readSlice(length: count)!
            self.hasher.update(slice)
            if self.kept.count < self.keep {
                self.kept += slice.readableBytesView.prefix(self.keep - self.kept.count)
            }
        }
    }

    /// True once `length` bytes arrived; false if the connection ended first.
    private func readBody(_ length: Int, into sink: inout BodySink) async throws -> Bool {
        var remaining = length
        while remaining > 0 {
            if self.pending.readableBytes == 0, try await !self.fill() { return false }
            let count = min(remaining, self.pending.readableBytes)
            sink.take(&self.pending, count)
            remaining -= count
        }
        return true
    }

    /// True once the last chunk and the trailer section arrived.
    private func readChunks(into sink: inout BodySink) async throws -> Bool {
        while true {
            guard let sizeLine = try await self.readLine() else { return false }
            let hex = sizeLine.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            guard let size = Int(hex, radix: 16) else { throw RawHTTPError(description: "bad chunk size line: \(sizeLine)") }
            if size == 0 {
                // Trailer fields, then the empty line.
                while let line = try await self.readLine() {
                    if line.isEmpty { return true }
                }
                return false
            }
            guard try await self.readBody(size, into: &sink), let end = try await self.readLine(), end.isEmpty else { return false }
        }
    }

    private func readHeaderLines() async throws -> [HeaderLine] {
        var headers: [HeaderLine] = []
        while true {
            guard let line = try await self.readLine() else { throw RawHTTPError(description: "the connection closed inside a response head") }
            if line.isEmpty { return headers }
            guard let colon = line.firstIndex(of: ":") else { throw RawHTTPError(description: "bad header line: \(line)") }
            headers.append(HeaderLine(String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
    }

    /// The next CRLF-terminated line without its CRLF; nil if the connection ends first.
    private func readLine() async throws -> String? {
        while true {
            let view = self.pending.readableBytesView
            if let newline = view.firstIndex(of: UInt8(ascii: "\n")) {
                let length = newline - view.startIndex + 1
                var line = self.pending.readString(length: length) ?? ""
                line.removeLast()
                if line.hasSuffix("\r") { line.removeLast() }
                return line
            }
            if try await !self.fill() { return nil }
        }
    }

    /// Appends the next received buffer to `pending`; false at the end of the stream. A read
    /// error (a reset) counts as the end, and is kept for the response's `readError`.
    private func fill() async throws -> Bool {
        if self.ended { return false }
        do {
            guard var buffer = try await self.inbound.next() else {
                self.ended = true
                return false
            }
            self.pending.discardReadBytes()
            self.pending.writeBuffer(&buffer)
            return true
        } catch {
            self.ended = true
            self.readError = error
            return false
        }
    }
}
