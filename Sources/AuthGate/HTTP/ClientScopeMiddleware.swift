// ClientScopeMiddleware: puts the client's address (the peer, or what a trusted proxy vouches
// for) in RequestScope while a session endpoint runs, so audit lines name it. Not on
// /auth/verify, which writes no audit line and must stay cheap.
import Hummingbird

struct ClientScopeMiddleware: RouterMiddleware {
    typealias Context = GatewayContext
    let clientAddress: ClientAddress

    func handle(_ request: Request, context: GatewayContext, next: (Request, GatewayContext) async throws -> Response) async throws -> Response {
        let client = clientAddress.resolve(peer: context.peerAddress, headers: request.headers)?.description ?? "unknown"
        return try await RequestScope.$clientIP.withValue(client) { try await next(request, context) }
    }
}
