// EchoUpstream: a real HTTP/1.1 internal API for reverse-proxy tests. It records what reaches
// it (method, raw path and query, headers in order, body size and SHA-256 hashed while it
// streams) and has special paths for streaming, slowness, statuses, broken bodies and
// hop-by-hop headers.
//
// Special paths match on the path's last segments, so a proxy may mount them under any prefix:
//   …/download/{bytes}          200, `bytes` of DownloadPattern, Content-Length, 64 KiB writes
//   …/upload                    consumes the body, answers {"size","sha256"}
//   …/slow/{seconds}            waits, then answers like the default
//   …/slow-body/{seconds}       sends the headers at once, the echo body after the wait
//   …/status/{code}             that status with {"status":code} (no body for 204 and 304)
//   …/break-mid-body            Content-Length 1 MiB, 256 KiB of DownloadPattern, then the
//                               connection is closed (the body writer throws)
//   …/break-mid-body/chunked    the same without Content-Length (chunked encoding)
//   …/headers                   hop-by-hop response headers a proxy must strip, and ones it
//                               keeps; then the connection closes, as its `Connection: close` says
//   …/hang-up-on-reuse          on a connection that already served a request: closed without
//                               an answer (an upstream whose keep-alive ran out as the request
//                               came); on a new connection: the echo
// Anything else: 200 with the echo JSON {"method","path","query","headers":[[name,value]…],
// "body_size","body_sha256","connection"}.
//
// Every request is recorded once its body ends (or breaks off), before the special path acts.
// Header recording: Hummingbird keeps header names as sent, in order, duplicates included,
// but lifts the first `Host` into the request's authority; it is recorded first, as `Host`.
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

public final class EchoUpstream: Sendable {

    public struct RecordedRequest: Sendable {
        public var method: String
        /// The path as sent (percent-encoding untouched), without the query.
        public var path: String
        /// The query as sent, nil when the target had no `?`.
        public var query: String?
        /// Every header, in the order received, with the names as sent; `Host` first.
        public var headers: [HeaderLine]
        public var bodySize: Int
        /// SHA-256 of the body bytes received, lowercase hex.
        public var bodySHA256: String
        /// False when the body stream broke off before its end (the client or proxy aborted).
        public var bodyComplete: Bool
        /// What the body stream threw when it broke off.
        public var bodyError: String?
        /// Which TCP connection it came on: 1 for the first connection the server saw, and so on.
        public var connection: Int
        /// The peer's "ip:port".
        public var remoteAddress: String

        /// The first value of a header, by case-insensitive name.
        public func header(_ name: String) -> String? {
            self.headers.first(name)
        }

        /// Every value of a header, in order, by case-insensitive name.
        public func headers(named name: String) -> [String] {
            self.headers.all(name)
        }
    }

    /// `break-mid-body` advertises this many bytes …
    public static let breakMidBodyAdvertised = 1 << 20
    /// … and writes only this many (or fewer, if the close overtakes queued writes).
    public static let breakMidBodyWritten = 256 << 10

    private let server = LoopbackServer(name: "EchoUpstream")
    private let tally = ConnectionTally()
    private let recorded = Mutex<[RecordedRequest]>([])

    public init() {}

    // MARK: Lifecycle

    /// Binds 127.0.0.1 on a free port; returns once it listens.
    public func start() async throws {
        try await self.server.start(EchoUpstreamMiddleware(upstream: self))
    }

    /// Stops and waits until the server has stopped (in-flight requests get 2 s). Idempotent.
    public func stop() async {
        await self.server.stop()
    }

    public var port: Int { self.server.port }

    /// "http://127.0.0.1:PORT" (valid after `start()`).
    public var baseURL: String { self.server.baseURL }

    // MARK: Observations

    /// Every request received so far, in the order their bodies ended.
    public var requests: [RecordedRequest] { self.recorded.withLock { $0 } }

    public var lastRequest: RecordedRequest? { self.recorded.withLock { $0.last } }

    /// Distinct TCP connections that sent at least one request.
    public var acceptedConnections: Int { self.tally.count }

    /// How many of the connections that brought requests are still open.
    public var openConnections: Int { self.tally.open }

    /// Forgets the recorded requests and the connections seen.
    public func reset() {
        self.recorded.withLock { $0.removeAll() }
        self.tally.reset()
    }

    /// SHA-256 (hex) of what `download/{bytes}` sends.
    public static func expectedDownloadSHA256(bytes: Int) -> String {
        DownloadPattern.sha256Hex(count: bytes)
    }

    // MARK: Request handling

    private enum Route {
        case echo
        case download(bytes: Int)
        case upload
        case slow(seconds: Double)
        case slowBody(seconds: Double)
        case status(Int)
        case breakMidBody(chunked: Bool)
        case headers
        case hangUpOnReuse

        init(path: String) {
            let segments = path.split(separator: "/").suffix(2).map(String.init)
            let last = segments.last ?? ""
            let (name, argument) = segments.count == 2 ? (segments[0], last) : ("", "")
            switch (name, last) {
            case ("download", _) where Int(argument).map({ $0 >= 0 }) == true: self = .download(bytes: Int(argument)!)
            case ("slow", _) where Double(argument) != nil: self = .slow(seconds: Double(argument)!)
            case ("slow-body", _) where Double(argument) != nil: self = .slowBody(seconds: Double(argument)!)
            case ("status", _) where Int(argument) != nil: self = .status(Int(argument)!)
            case ("break-mid-body", "chunked"): self = .breakMidBody(chunked: true)
            case (_, "break-mid-body"): self = .breakMidBody(chunked: false)
            case (_, "upload"): self = .upload
            case (_, "headers"): self = .headers
            case (_, "hang-up-on-reuse"): self = .hangUpOnReuse
            default: self = .echo
            }
        }
    }

    fileprivate func handle(_ request: Request, context: ChannelRequestContext) async throws -> Response {
        let connection = self.tally.ordinal(of: context.channel)
        let target = request.head.path ?? "/"
        let (path, query) = Self.split(target)
        var headers: [HeaderLine] = request.head.authority.map { [HeaderLine("Host", $0)] } ?? []
        headers += request.headers.map { HeaderLine($0.name.rawName, $0.value) }
        let peer = context.channel.remoteAddress
        var record = RecordedRequest(
            method: request.method.rawValue,
            path: path,
            query: query,
            headers: headers,
            bodySize: 0,
            bodySHA256: "",
            bodyComplete: false,
            bodyError: nil,
            connection: connection,
            remoteAddress: "\(peer?.ipAddress ?? "?"):\(peer?.port ?? 0)"
        )

        // Hash as the body streams: no request body is ever held whole.
        var hasher = StreamingSHA256()
        do {
            for try await buffer in request.body {
                hasher.update(buffer)
            }
        } catch {
            record.bodySize = hasher.count
            record.bodySHA256 = hasher.finalHex()
            record.bodyError = String(describing: error)
            self.recorded.withLock { $0.append(record) }
            throw error
        }
        record.bodySize = hasher.count
        record.bodySHA256 = hasher.finalHex()
        record.bodyComplete = true
        self.recorded.withLock { $0.append(record) }

        switch Route(path: path) {
        case .echo:
            return Self.json(Self.echo(record))
        case .hangUpOnReuse:
            let reused = self.recorded.withLock { recorded in recorded.dropLast().contains { $0.connection == connection } }
            guard reused else { return Self.json(Self.echo(record)) }
            try await context.channel.close()
            throw CancellationError()
        case .download(let bytes):
            var response = Response(status: .ok, body: DownloadPattern.responseBody(count: bytes))
            response.headers[.contentType] = "application/octet-stream"
            return response
        case .upload:
            return Self.json(["size": record.bodySize, "sha256": record.bodySHA256])
        case .slow(let seconds):
            try await Self.wait(seconds, while: context.channel)
            return Self.json(Self.echo(record))
        case .slowBody(let seconds):
            let echo = Self.encode(Self.echo(record))
            let channel = context.channel
            return Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: ResponseBody(contentLength: echo.readableBytes) { writer in
                    try await Self.wait(seconds, while: channel)
                    try await writer.write(echo)
                    try await writer.finish(nil)
                }
            )
        case .status(let code):
            guard (200...599).contains(code) else {
                return Self.json(["error": "status must be 200...599"], status: 400)
            }
            if code == 204 || code == 304 { return Response(status: .init(code: code)) }
            return Self.json(["status": code], status: code)
        case .breakMidBody(let chunked):
            var response = Response(
                status: .ok,
                body: DownloadPattern.responseBody(
                    count: Self.breakMidBodyAdvertised,
                    failAfter: Self.breakMidBodyWritten,
                    contentLength: !chunked
                )
            )
            response.headers[.contentType] = "application/octet-stream"
            return response
        case .headers:
            let json = Self.encode(["headers": "sent"])
            let channel = context.channel
            var response = Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: ResponseBody(contentLength: json.readableBytes) { writer in
                    try await writer.write(json)
                    try await writer.finish(nil)
                    // Hummingbird would keep the connection open despite `Connection: close`; a real
                    // upstream closes it. The close queues behind the answer's write on the event loop.
                    channel.close(promise: nil)
                }
            )
            for (name, value) in Self.hopByHopAndKeptHeaders {
                response.headers.append(HTTPField(name: HTTPField.Name(name)!, value: value))
            }
            return response
        }
    }

    /// What `headers` adds to its answer: hop-by-hop ones (RFC 9110 §7.6.1) a proxy must drop,
    /// then end-to-end ones it must pass on. Because of `Connection: close` the server closes the
    /// connection after this answer, as a real upstream would.
    public static let hopByHopAndKeptHeaders: [(String, String)] = [
        ("Connection", "close, X-Drop-Me"),
        ("X-Drop-Me", "1"),
        ("Keep-Alive", "timeout=5"),
        ("Proxy-Connection", "keep-alive"),
        ("Trailer", "X-Checksum"),
        ("Upgrade", "h2c"),
        ("X-Keep-Me", "kept"),
        ("Set-Cookie", "a=1; Path=/"),
        ("Set-Cookie", "b=2; Path=/"),
    ]

    /// Sleeps in short steps and gives up once the client has gone, so a slow answer never keeps
    /// the server busy after its caller (or the proxy's timeout) left.
    private static func wait(_ seconds: Double, while channel: any Channel) async throws {
        let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int64(seconds * 1000)))
        while ContinuousClock.now < deadline {
            guard channel.isActive else { throw CancellationError() }
            try await Task.sleep(for: min(.milliseconds(50), deadline - ContinuousClock.now))
        }
    }

    private static func echo(_ record: RecordedRequest) -> [String: Any] {
        [
            "method": record.method,
            "path": record.path,
            "query": record.query.map { $0 as Any } ?? NSNull(),
            "headers": record.headers.map { [$0.name, $0.value] },
            "body_size": record.bodySize,
            "body_sha256": record.bodySHA256,
            "connection": record.connection,
        ]
    }

    private static func encode(_ object: [String: Any]) -> ByteBuffer {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return ByteBuffer(bytes: data)
    }

    private static func json(_ object: [String: Any], status: Int = 200) -> Response {
        Response(
            status: .init(code: status),
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: self.encode(object))
        )
    }

    /// Splits a request target at its first `?`.
    private static func split(_ target: String) -> (path: String, query: String?) {
        guard let mark = target.firstIndex(of: "?") else { return (target, nil) }
        return (String(target[..<mark]), String(target[target.index(after: mark)...]))
    }
}

/// Answers every request itself, whatever the method and path.
struct EchoUpstreamMiddleware: RouterMiddleware {
    typealias Context = ChannelRequestContext
    let upstream: EchoUpstream

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        try await self.upstream.handle(request, context: context)
    }
}
