// HTTPForwarder: sends a proxied request to a `kind: http` upstream with AsyncHTTPClient (made for
// SwiftNIO servers: its own connection pool, per-request deadlines) and streams both bodies with
// backpressure: the client's body is read only as fast as the upstream takes it, and the
// upstream's only as fast as the client reads it.
import AsyncHTTPClient
import Foundation
import Hummingbird
import HTTPTypes
import Logging
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

    /// Forwards one request; returns the upstream's answer with its body still streaming.
    func forward(_ request: Request, to url: String, headers: HTTPFields, timeout: TimeInterval, logger: Logger) async throws(Failure) -> Response {
        var outgoing = HTTPClientRequest(url: url)
        outgoing.method = HTTPMethod(rawValue: request.method.rawValue)
        var nioHeaders = HTTPHeaders()
        nioHeaders.reserveCapacity(headers.count)
        for field in headers { nioHeaders.add(name: field.name.rawName, value: field.value) }
        outgoing.headers = nioHeaders
        if let length = request.headers[.contentLength].flatMap(Int.init) {
            outgoing.body = .stream(request.body, length: .known(Int64(length)))
        } else if request.headers[.transferEncoding] != nil {
            outgoing.body = .stream(request.body, length: .unknown)
        }
        let answer: HTTPClientResponse
        do {
            answer = try await client.execute(outgoing, deadline: .now() + .milliseconds(Int64(timeout * 1000)), logger: logger)
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
