// ShotGridForwarder: a `kind: shotgrid` route: `{prefix}/REST` goes to `{shotgrid-url}/api/v1/REST`
// as the signed-in user, through the session's libcurl handle in the upstream pool (one reused
// TCP/TLS connection per session) with the session's ShotGrid token. A 401 from ShotGrid renews
// the token once and retries once when the request body was small enough to keep.
import Foundation
import Hummingbird
import HTTPTypes
import Logging
import NIOConcurrencyHelpers
import NIOCore

final class ShotGridForwarder: Sendable {
    let provider: ShotGridProvider
    let revoker: Revoker
    /// Bodies up to this size are kept in memory so a request can be retried after a renewal.
    static let retryableBodyLimit = 64 * 1024

    init(provider: ShotGridProvider, revoker: Revoker) {
        self.provider = provider
        self.revoker = revoker
    }

    enum Body {
        case none
        case buffered([UInt8])
        /// Too big to keep: the chunks read so far, then the rest, straight through.
        case streamed(length: Int?, prefix: [ByteBuffer], rest: RequestBodyReader)
    }

    /// The request body kept in memory when it is at most 64 KiB (declared, or found so by
    /// reading a chunked one that far), so a 401 can be retried; else left to stream.
    static func body(of request: Request) async throws -> Body {
        let length = request.headers[.contentLength].flatMap(Int.init)
        guard length != nil || request.headers[.transferEncoding] != nil else { return .none }
        let reader = RequestBodyReader(request.body)
        var prefix: [ByteBuffer] = []
        var size = 0
        if length.map({ $0 <= retryableBodyLimit }) ?? true {
            while size <= retryableBodyLimit {
                guard let chunk = try await reader.next() else {
                    return .buffered(prefix.flatMap { Array($0.readableBytesView) })
                }
                size += chunk.readableBytes
                prefix.append(chunk)
            }
        }
        return .streamed(length: length, prefix: prefix, rest: reader)
    }

    func forward(_ request: Request, path: Substring, claims: AccessClaims, headers: HTTPFields, timeout: TimeInterval, logger: Logger) async throws -> Response {
        let sessions = provider.sessions
        let connection: UpstreamConnection
        var tokens: UpstreamTokens
        do {
            connection = try await sessions.connection(sessionID: claims.sid, now: Date())
            tokens = try await sessions.tokens(connection, sessionID: claims.sid, now: Date())
        } catch {
            throw try await mapped(error, claims: claims)
        }
        let url = provider.api.baseURL + "/api/v1" + path + (request.uri.query.map { "?" + $0 } ?? "")
        let body = try await Self.body(of: request)
        let retryable = if case .streamed = body { false } else { true }
        for attempt in 0..<2 {
            let outcome = try await exchange(
                request, url: url, headers: headers, token: tokens.accessToken, body: body, connection: connection, timeout: timeout,
                retryOnUnauthorized: retryable && attempt == 0, logger: logger)
            switch outcome {
            case .response(let response):
                return response
            case .unauthorized:
                do {
                    tokens = try await sessions.tokens(connection, sessionID: claims.sid, now: Date(), force: true)
                } catch {
                    throw try await mapped(error, claims: claims)
                }
            }
        }
        throw APIError.badGateway
    }

    /// Renewal refused: the session's ShotGrid sign-in is over, and so is the session.
    private func mapped(_ error: any Error, claims: AccessClaims) async throws -> any Error {
        switch error {
        case ProviderError.invalidCredentials:
            try await revoker.revokeSession(id: claims.sid, by: .provider, user: claims.login)
            return SessionError.invalidToken(tokenSent: true)
        case ProviderError.unavailable: return APIError.badGateway
        case is SessionError, is APIError: return error
        default: return SessionError.storeUnavailable
        }
    }

    enum Outcome: Sendable {
        case response(Response)
        /// ShotGrid answered 401 and the exchange was swallowed so that it can be retried.
        case unauthorized
    }

    private func exchange(
        _ request: Request, url: String, headers: HTTPFields, token: Secret<String>, body: Body, connection: UpstreamConnection,
        timeout: TimeInterval, retryOnUnauthorized: Bool, logger: Logger
    ) async throws -> Outcome {
        // ShotGrid presumed down (repeated failures just now): 503 at once, nothing sent.
        let breaker = provider.breaker
        guard breaker.allow() else { throw SessionError.upstreamUnavailable }
        let lines = headers.map { "\($0.name.rawName): \($0.value)" } + ["Authorization: Bearer \(token.value)"]
        let curlBody: CurlRequestBody
        let pipe: UploadPipe?
        switch body {
        case .none:
            curlBody = .none
            pipe = nil
        case .buffered(let bytes):
            curlBody = .streamed(length: bytes.count)
            pipe = nil
        case .streamed(let length, let prefix, let rest):
            curlBody = .streamed(length: length)
            let streaming = UploadPipe()
            Task { await streaming.fill(prefix: prefix, rest: rest) }
            pipe = streaming
        }
        let exchange = CurlExchange(
            bridge: CurlBodyBridge.make(), buffered: { if case .buffered(let bytes) = body { bytes } else { nil } }(), pipe: pipe,
            headTimeout: timeout, retryOnUnauthorized: retryOnUnauthorized)
        let method = request.method.rawValue
        let workers = provider.workers
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Outcome, any Error>) in
                exchange.handoff = continuation
                // The transfer outlives this handler: it streams the body after the head is handed over.
                Task {
                    do {
                        try await workers.run {
                            let run = { (easy: CurlEasy) throws(CurlError) in
                                try easy.stream(method: method, url: url, headers: lines, body: curlBody, connectTimeout: min(timeout, 5), delegate: exchange)
                            }
                            if try connection.withHandleIfFree(run) == nil {
                                // The session's handle is busy with another exchange: a one-off handle.
                                let easy = CurlEasy(timeout: timeout)
                                defer { easy.close() }
                                try run(easy)
                            }
                        }
                        exchange.ended(nil)
                        if (exchange.headStatus ?? 500) >= 500 { breaker.recordFailure() } else { breaker.recordSuccess() }
                    } catch {
                        exchange.ended(error)
                        // A broken exchange after an answer head is the client's or the network's
                        // doing; no head at all (or a 5xx) counts against ShotGrid.
                        if (exchange.headStatus ?? 500) >= 500 { breaker.recordFailure() } else { breaker.recordSuccess() }
                    }
                    pipe?.close()
                }
            }
        } onCancel: {
            exchange.cancel()
        }
    }
}

/// One exchange's state between the curl thread and the async handler. `@unchecked Sendable`:
/// the mutable parts are guarded by `lock`; the rest is written before the transfer starts.
private final class CurlExchange: CurlStreamingDelegate, @unchecked Sendable {
    let bridge: CurlBodyBridge
    let buffered: [UInt8]?
    let pipe: UploadPipe?
    let headTimeout: TimeInterval
    let retryOnUnauthorized: Bool
    private let lock = NIOLock()
    /// When the answer's head is due: the route's timeout after the request body is sent.
    private var headDeadline: Date?
    private var sent = 0
    private var cancelled = false
    private var swallowed = false
    private var status: Int?
    var handoff: CheckedContinuation<ShotGridForwarder.Outcome, any Error>?

    init(bridge: CurlBodyBridge, buffered: [UInt8]?, pipe: UploadPipe?, headTimeout: TimeInterval, retryOnUnauthorized: Bool) {
        self.bridge = bridge
        self.buffered = buffered
        self.pipe = pipe
        self.headTimeout = headTimeout
        // A streamed upload starts the clock when it ends; anything else is sent at once.
        headDeadline = pipe == nil ? Date().addingTimeInterval(headTimeout) : nil
        self.retryOnUnauthorized = retryOnUnauthorized
    }

    private func resume(_ result: Result<ShotGridForwarder.Outcome, any Error>) {
        let continuation = lock.withLock { () -> CheckedContinuation<ShotGridForwarder.Outcome, any Error>? in
            defer { handoff = nil }
            return handoff
        }
        continuation?.resume(with: result)
    }

    func cancel() { lock.withLock { cancelled = true } }

    /// The status ShotGrid answered with, once a head arrived.
    var headStatus: Int? { lock.withLock { status } }

    /// The transfer is over: an answer never handed over becomes an error (or the retry), a
    /// streamed body ends, cleanly or broken.
    func ended(_ error: (any Error)?) {
        let (waiting, swallowed) = lock.withLock { (handoff != nil, self.swallowed) }
        if waiting {
            if swallowed && error == nil {
                resume(.success(.unauthorized))
            } else {
                resume(.failure(Self.apiError(error ?? CurlError.failed("no answer"))))
            }
            bridge.finish()
        } else if let error {
            bridge.fail(error)
        } else {
            bridge.finish()
        }
    }

    static func apiError(_ error: any Error) -> any Error {
        switch error {
        case CurlError.timedOut: APIError.upstreamTimeout
        case BlockingPoolError.saturated: SessionError.overloaded
        default: APIError.badGateway
        }
    }

    // MARK: CurlStreamingDelegate (on the curl thread)

    func curlDidReceiveHead(status: Int, headers: [(name: String, value: String)]) -> Bool {
        lock.withLock { self.status = status }
        if status == 401 && retryOnUnauthorized {
            lock.withLock { swallowed = true }
            return false
        }
        var fields = HTTPFields()
        for (name, value) in headers {
            if let name = HTTPField.Name(name) { fields.append(HTTPField(name: name, value: value)) }
        }
        let response = Response(
            status: HTTPResponse.Status(code: status), headers: ForwardedHeaders.toClient(fields),
            body: ResponseBody(asyncSequence: bridge.sequence))
        resume(.success(.response(response)))
        return true
    }

    func curlDidReceiveBody(_ bytes: UnsafeRawBufferPointer) -> Bool { bridge.deliver(bytes) }

    func curlReadBody(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        if let pipe {
            let read = pipe.read(into: buffer)
            if read == 0 { lock.withLock { headDeadline = Date().addingTimeInterval(headTimeout) } }
            return read
        }
        guard let buffered else { return 0 }
        return lock.withLock {
            let count = min(buffer.count, buffered.count - sent)
            buffered[sent..<(sent + count)].withUnsafeBytes { buffer.copyMemory(from: $0) }
            sent += count
            return count
        }
    }

    func curlShouldAbort(headReceived: Bool) -> Bool {
        lock.withLock { cancelled || (!headReceived && headDeadline.map { Date() > $0 } == true) }
    }
}
