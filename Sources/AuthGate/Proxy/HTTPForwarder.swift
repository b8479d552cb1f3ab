// HTTPForwarder: sends a proxied request to a `kind: http` upstream with AsyncHTTPClient (made for
// SwiftNIO servers: its own connection pool, per-request deadlines) and streams both bodies with
// backpressure: the client's body is read only as fast as the upstream takes it, and the
// upstream's only as fast as the client reads it.
import AsyncHTTPClient
import Foundation
import Hummingbird
import HTTPTypes
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
public import NIOPosix
public import ServiceLifecycle

public final class HTTPForwarder: Service, Sendable {
    let client: HTTPClient

    public init(eventLoopGroup: MultiThreadedEventLoopGroup = .singleton) {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(5), read: .seconds(300)),
            connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 64),
            // The client gets the upstream's bytes as they are, compressed or not.
            decompression: .disabled)
        configuration.httpVersion = .http1Only
        // A refused or unreachable upstream is 502 now, as nginx answers it, rather than a
        // request parked while the client backs off and retries until the head timeout (504).
        configuration.connectionPool.retryConnectionEstablishment = false
        // The gateway bootstraps no tracer; without this the no-op one still costs a URL parse
        // and a span's attributes per proxied request (about 5 % of the proxy's CPU in perf).
        configuration.tracing.tracer = nil
        client = HTTPClient(eventLoopGroupProvider: .shared(eventLoopGroup), configuration: configuration)
    }

    public func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }

    enum Failure: Error {
        /// Unreachable, refused, or broke the exchange before answering: 502.
        case badGateway(String)
        /// No response headers within the route's timeout: 504.
        case timedOut
    }

    /// Forwards one request; returns the upstream's answer with its body still streaming. The
    /// route's timeout runs from when the request body has been sent (a large upload may take
    /// longer than the wait for the answer's head).
    func forward(_ request: Request, to url: String, headers: HTTPFields, timeout: TimeInterval, logger: Logger) async throws(Failure) -> Response {
        var outgoing = HTTPClientRequest(url: url)
        outgoing.method = HTTPMethod(rawValue: request.method.rawValue)
        var nioHeaders = HTTPHeaders()
        nioHeaders.reserveCapacity(headers.count)
        for field in headers { nioHeaders.add(name: field.name.rawName, value: field.value) }
        outgoing.headers = nioHeaders
        let sent = BodySentSignal()
        if let length = request.headers[.contentLength].flatMap(Int.init) {
            outgoing.body = .stream(SignalingBody(base: request.body, sent: sent), length: .known(Int64(length)))
        } else if request.headers[.transferEncoding] != nil {
            outgoing.body = .stream(SignalingBody(base: request.body, sent: sent), length: .unknown)
        }
        let prepared = outgoing
        let answer: HTTPClientResponse
        do {
            if prepared.body == nil {
                // No body: the head is due `timeout` from now, the client's own deadline, no extra tasks.
                answer = try await client.execute(prepared, deadline: .now() + .milliseconds(Int64(timeout * 1000)), logger: logger)
            } else {
                answer = try await withThrowingTaskGroup(of: HTTPClientResponse?.self) { group in
                    group.addTask { [client] in
                        // The head timer below is the real limit; this deadline only backs it up.
                        try await client.execute(prepared, deadline: .now() + .hours(1), logger: logger)
                    }
                    group.addTask {
                        await sent.wait()
                        try await Task.sleep(for: .milliseconds(Int64(timeout * 1000)))
                        return nil
                    }
                    defer { group.cancelAll() }
                    guard let first = try await group.next(), let response = first else { throw Failure.timedOut }
                    return response
                }
            }
        } catch let failure as Failure {
            throw failure
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            throw .timedOut
        } catch {
            throw .badGateway(String(describing: error))
        }
        var fields = HTTPFields()
        for header in answer.headers {
            if let name = HTTPField.Name(header.name) { fields.append(HTTPField(name: name, value: header.value)) }
        }
        return Response(
            status: HTTPResponse.Status(code: Int(answer.status.code), reasonPhrase: answer.status.reasonPhrase),
            headers: ForwardedHeaders.toClient(fields),
            body: ResponseBody(asyncSequence: answer.body))
    }
}

/// Set once the request body has been handed to the upstream in full.
final class BodySentSignal: Sendable {
    private let state = NIOLockedValueBox<(sent: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func signal() {
        let waiters = state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
            guard !state.sent else { return [] }
            state.sent = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLockedValue { state -> Bool in
                if state.sent { return true }
                state.waiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }
}

/// The client's request body as it streams to the upstream, signalling its end.
struct SignalingBody<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == ByteBuffer {
    typealias Element = ByteBuffer
    let base: Base
    let sent: BodySentSignal

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let sent: BodySentSignal

        mutating func next() async throws -> ByteBuffer? {
            guard let chunk = try await base.next() else {
                sent.signal()
                return nil
            }
            return chunk
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator(), sent: sent) }
}
