// ChannelProxy: what the channel-level proxy shares across connections: the `kind: http` routes
// it serves, and the decision, per request head, whether it serves it: a plain HTTP upstream and
// a token that verifies without suspending. Everything else (https upstreams, ShotGrid routes,
// refusals and their sign-in redirects, a key to reload, `Expect`) goes on to the router, where
// ProxyMiddleware answers it exactly as before.
import Dispatch
import Foundation
import HTTPTypes
import Logging
import Metrics
import NIOCore
import NIOHTTP1

final class ChannelProxy: Sendable {
    let table: ProxyRouteTable
    /// By route prefix; only plain-HTTP routes have one.
    let targets: [String: UpstreamTarget]
    let verifier: AccessTokenVerifier
    let issuer: TokenIssuer
    let clientAddress: ClientAddress
    let origins: OriginPolicy
    let pools = HTTPUpstreamPools()
    let logger: Logger
    private let proxyMetrics = ProxyMetrics()
    private let requestMetrics = RequestMetricsCache()

    init(routes: [ProxyRoute], verifier: AccessTokenVerifier, issuer: TokenIssuer, clientAddress: ClientAddress, origins: OriginPolicy, logger: Logger) {
        table = ProxyRouteTable(routes)
        var targets: [String: UpstreamTarget] = [:]
        for route in routes where route.kind == .http {
            if let upstream = route.upstream, let target = UpstreamTarget(upstream) { targets[route.prefix] = target }
        }
        self.targets = targets
        self.verifier = verifier
        self.issuer = issuer
        self.clientAddress = clientAddress
        self.origins = origins
        self.logger = logger
    }

    /// Who the client is, worked out once per connection.
    struct Peer {
        var address: String
        var isTrusted: Bool
    }

    func peer(of channel: any Channel) -> Peer {
        let remote = channel.remoteAddress?.ipAddress ?? "unknown"
        let address = IPAddress(remote)
        return Peer(address: address?.description ?? remote, isTrusted: address.map(clientAddress.isTrusted) ?? false)
    }

    /// One request the channel-level proxy takes on.
    struct Plan {
        let route: ProxyRoute
        let target: UpstreamTarget
        let head: HTTPRequestHead
        let method: HTTPRequest.Method
        let requestID: String
        /// The request's Origin when it is allowed, for the answer's CORS headers.
        let allowedOrigin: String?
        /// The client asked to close the connection after this exchange.
        let closeAfter: Bool
        /// Whether the request has a body: without one, a request that met a pooled connection
        /// just closed by the upstream can be sent again on a new one.
        let hasBody: Bool
        let start: UInt64
    }

    /// The plan for a request head, or nil when the router should have it.
    func plan(_ request: HTTPRequest, peer: Peer) -> Plan? {
        guard !targets.isEmpty, let target = request.path else { return nil }
        let questionMark = target.utf8.firstIndex(of: UInt8(ascii: "?"))
        let path = target[..<(questionMark ?? target.endIndex)]
        guard let route = table.route(for: path), let upstream = targets[route.prefix] else { return nil }
        let fields = request.headerFields
        // Methods whose framing HTTP/1.1 treats specially, and Expect, stay with AsyncHTTPClient.
        guard request.method != .connect, request.method != .trace, fields[.expect] == nil, !ProxyPath.hasDotSegment(path) else { return nil }
        // A CORS preflight is the gateway's to answer (CORSMiddleware), token or not.
        guard request.method != .options || fields[.accessControlRequestMethod] == nil else { return nil }
        guard let header = fields[.authorization], let token = try? BearerTokenAuthenticator.token(from: header),
            let claims = verifier.verifiedNow(token)
        else { return nil }
        let authorization: String?
        switch route.authorization {
        case .drop: authorization = nil
        case .forward: authorization = header
        case .internal:
            guard let minted = try? issuer.internalToken(for: claims, audience: route.audience) else { return nil }
            authorization = "Bearer " + minted
        }
        let client = ForwardedHeaders.Client(peer: peer.address, peerIsTrusted: peer.isTrusted, authority: request.authority)
        let forwarded = ForwardedHeaders.toUpstream(fields, claims: claims, client: client, authorization: authorization)

        var headers = HTTPHeaders()
        headers.reserveCapacity(forwarded.count + 2)
        headers.add(name: "Host", value: upstream.authority)
        for field in forwarded { headers.add(name: field.name.rawName, value: field.value) }
        // Framing as the client sent it; a POST, PUT or PATCH without a body says so, rather than
        // being given an empty chunked one.
        let hasBody: Bool
        if let length = fields[.contentLength] {
            headers.add(name: "Content-Length", value: length)
            hasBody = length != "0"
        } else if fields[.transferEncoding] != nil {
            headers.add(name: "Transfer-Encoding", value: "chunked")
            hasBody = true
        } else {
            if request.method == .post || request.method == .put || request.method == .patch { headers.add(name: "Content-Length", value: "0") }
            hasBody = false
        }
        let tail = route.prefix == "/" || !route.stripPrefix ? path : path.dropFirst(route.prefix.utf8.count)
        let query = questionMark.map { target[target.utf8.index(after: $0)...] }
        let head = HTTPRequestHead(
            version: .http1_1, method: HTTPMethod(rawValue: request.method.rawValue), uri: upstream.requestTarget(tail: tail, query: query), headers: headers)
        let requestID = fields[RequestIDMiddleware.header].flatMap { RequestIDMiddleware.isAcceptable($0) ? $0 : nil } ?? RequestIDMiddleware.generate()
        let closeAfter = fields[values: .connection].contains { $0.lowercased().contains("close") }
        return Plan(
            route: route, target: upstream, head: head, method: request.method, requestID: requestID,
            allowedOrigin: fields[.origin].flatMap { origins.isListed($0) ? $0 : nil }, closeAfter: closeAfter, hasBody: hasBody,
            start: DispatchTime.now().uptimeNanoseconds)
    }

    /// The client's answer head for the upstream's: hop-by-hop headers out, the gateway's CORS
    /// decision and the request id in, as ProxyMiddleware and the router's middleware give it.
    func answerHead(_ head: HTTPResponseHead, plan: Plan) -> HTTPResponse {
        var fields = HTTPFields()
        fields.reserveCapacity(head.headers.count + 2)
        for (name, value) in head.headers {
            if let name = HTTPField.Name(name) { fields.append(HTTPField(name: name, value: value)) }
        }
        var headers = ForwardedHeaders.toClient(fields)
        CORSMiddleware.decorate(&headers, allowedOrigin: plan.allowedOrigin)
        headers[RequestIDMiddleware.header] = plan.requestID
        return HTTPResponse(status: .init(code: Int(head.status.code), reasonPhrase: head.status.reasonPhrase), headerFields: headers)
    }

    /// The gateway's own error answer (502, 504) with every header the router would give it.
    func errorAnswer(_ error: APIError, plan: Plan) -> (head: HTTPResponse, body: ByteBuffer) {
        var (headers, body) = error.rendered()
        ErrorMiddleware.addSecurityHeaders(&headers)
        CORSMiddleware.decorate(&headers, allowedOrigin: plan.allowedOrigin)
        headers[RequestIDMiddleware.header] = plan.requestID
        return (HTTPResponse(status: error.status, headerFields: headers), ByteBuffer(bytes: body))
    }

    /// The contract's proxy counter and the request metrics, labelled as the router labels them.
    func record(_ plan: Plan, status: HTTPResponse.Status, isError: Bool) {
        proxyMetrics.record(route: plan.route.prefix, status: status.code)
        let metrics = requestMetrics.metrics(endpoint: plan.route.prefix, method: plan.method, status: status)
        metrics.requests.increment()
        if isError { metrics.errors.increment() }
        metrics.duration.recordNanoseconds(DispatchTime.now().uptimeNanoseconds - plan.start)
    }

    func logFailure(_ plan: Plan, _ detail: String) {
        logger.warning(
            "upstream failed",
            metadata: ["authgate.route": .string(plan.route.prefix), "error": .string(detail), "authgate.request.id": .string(plan.requestID)])
    }
}
