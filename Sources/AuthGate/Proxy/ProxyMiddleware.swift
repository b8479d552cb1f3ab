// ProxyMiddleware: the reverse proxy. A request under a route's prefix is authenticated exactly
// as /auth/verify does it (JWT and the in-memory revocation view, no store round trip), its
// headers rewritten by the contract's rules, and forwarded to the route's upstream, both bodies
// streaming. Anything else passes on to the router (which answers 404).
public import Hummingbird
import Foundation
import HTTPTypes
import Logging

public struct ProxyMiddleware: RouterMiddleware {
    public typealias Context = GatewayContext
    let table: ProxyRouteTable
    let verifier: AccessTokenVerifier
    let issuer: TokenIssuer
    let http: HTTPForwarder
    let shotgrid: ShotGridForwarder?
    let clientAddress: ClientAddress
    let metrics = ProxyMetrics()

    init(
        routes: [ProxyRoute], verifier: AccessTokenVerifier, issuer: TokenIssuer, http: HTTPForwarder, shotgrid: ShotGridForwarder?,
        clientAddress: ClientAddress
    ) {
        table = ProxyRouteTable(routes)
        self.verifier = verifier
        self.issuer = issuer
        self.http = http
        self.shotgrid = shotgrid
        self.clientAddress = clientAddress
    }

    public func handle(_ request: Request, context: GatewayContext, next: (Request, GatewayContext) async throws -> Response) async throws -> Response {
        let path = request.uri.path[...]
        guard let route = table.route(for: path) else { return try await next(request, context) }
        // Request metrics label a proxied request by its route, as the channel-level proxy does.
        context.coreContext.endpointPath.value = route.prefix
        do {
            let response = try await forward(request, route: route, path: path, context: context)
            metrics.record(route: route.prefix, status: response.status.code)
            return response
        } catch SessionError.invalidToken where route.signInRedirect && BrowserNavigation.isNavigation(request) {
            // A person's browser goes to the sign-in page; scripts keep the 401 they can act on.
            metrics.record(route: route.prefix, status: 302)
            return BrowserNavigation.signInRedirect(for: request)
        } catch {
            metrics.record(route: route.prefix, status: APIError.from(error)?.status.code ?? 500)
            throw error
        }
    }

    private func forward(_ request: Request, route: ProxyRoute, path: Substring, context: GatewayContext) async throws -> Response {
        // Without a valid token the upstream sees nothing: not even the request line.
        guard let header = request.headers[.authorization] else { throw SessionError.invalidToken(tokenSent: false) }
        let claims = try await verifier.verify(try BearerTokenAuthenticator.token(from: header))
        guard !ProxyPath.hasDotSegment(path) else { throw APIError.invalidRequest("path must not contain . or .. segments") }

        let peer = context.peerAddress
        let client = ForwardedHeaders.Client(
            peer: IPAddress(peer)?.description ?? peer, peerIsTrusted: IPAddress(peer).map(clientAddress.isTrusted) ?? false,
            authority: request.head.authority)
        let rest = route.prefix == "/" ? path : path.dropFirst(route.prefix.count)
        switch route.kind {
        case .http:
            let authorization: String? =
                switch route.authorization {
                case .drop: nil
                case .forward: header
                case .internal: "Bearer " + (try issuer.internalToken(for: claims, audience: route.audience))
                }
            let headers = ForwardedHeaders.toUpstream(request.headers, claims: claims, client: client, authorization: authorization)
            do {
                return try await http.forward(request, to: route.upstreamURL(rest: rest, fullPath: path, query: request.uri.query), headers: headers, timeout: route.timeout, logger: context.logger)
            } catch .timedOut {
                throw APIError.upstreamTimeout
            } catch .badGateway(let detail) {
                context.logger.warning("upstream failed", metadata: ["authgate.route": "\(route.prefix)", "error": "\(detail)"])
                throw APIError.badGateway
            }
        case .shotgrid:
            guard let shotgrid else { throw SessionError.accessDenied("this gateway does not sign users in with ShotGrid") }
            let headers = ForwardedHeaders.toUpstream(request.headers, claims: claims, client: client, authorization: nil)
            return try await shotgrid.forward(request, path: rest, claims: claims, headers: headers, timeout: route.timeout, logger: context.logger)
        }
    }
}

extension ProxyRoute {
    /// The upstream URL of a request: the base URL's path, then the rest of the request path
    /// (or all of it, without `strip_prefix`), then the query as received.
    func upstreamURL(rest: Substring, fullPath: Substring, query: String?) -> String {
        var base = upstream?.absoluteString ?? ""
        while base.hasSuffix("/") { base.removeLast() }
        let tail = stripPrefix ? rest : fullPath
        let hasPath = !(upstream?.path ?? "").isEmpty && upstream?.path != "/"
        let path = tail.isEmpty && !hasPath ? "/" : String(tail)
        return base + path + (query.map { "?" + $0 } ?? "")
    }
}
