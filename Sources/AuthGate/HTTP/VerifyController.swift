// VerifyController: GET/HEAD /auth/verify for nginx auth_request, Traefik ForwardAuth and Envoy
// ext_authz: 200 plus the identity headers, or the bearer token's 401 (with a sign-in URL for a
// browser navigation, which nginx's sign-in recipe redirects to).
public import Hummingbird
import HTTPTypes

public struct VerifyController: Sendable {
    let verifier: AccessTokenVerifier

    public init(verifier: AccessTokenVerifier) { self.verifier = verifier }

    public func addRoutes(to group: RouterGroup<GatewayContext>) {
        group.get("verify", use: verify)
        group.head("verify", use: verify)
    }

    @Sendable func verify(request: Request, context: GatewayContext) async throws -> Response {
        let claims: AccessClaims
        do {
            // The bearer authenticator's rules, inline, so the 401 can carry the sign-in hint.
            guard let header = request.headers[.authorization] else { throw SessionError.invalidToken(tokenSent: false) }
            claims = try await verifier.verify(try BearerTokenAuthenticator.token(from: header))
        } catch SessionError.invalidToken(let sent) {
            var response = try APIError(.invalidToken(tokenSent: sent)).response(from: request, context: context)
            if let location = BrowserNavigation.verifySignInLocation(request) { response.headers[BrowserNavigation.signInHeader] = location }
            return response
        }
        var headers: HTTPFields = [.cacheControl: "no-store"]
        IdentityHeaders.set(claims, in: &headers)
        return Response(status: .ok, headers: headers)
    }
}
