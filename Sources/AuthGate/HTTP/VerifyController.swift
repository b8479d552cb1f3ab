// VerifyController: GET/HEAD /auth/verify for nginx auth_request, Traefik ForwardAuth and Envoy
// ext_authz: 200 plus the identity headers, or the 401 of the bearer authenticator.
public import Hummingbird
import HTTPTypes

public struct VerifyController: Sendable {
    let verifier: AccessTokenVerifier

    public init(verifier: AccessTokenVerifier) { self.verifier = verifier }

    public func addRoutes(to group: RouterGroup<GatewayContext>) {
        let authenticated = group.group().add(middleware: BearerTokenAuthenticator(verifier: verifier))
        authenticated.get("verify", use: verify)
        authenticated.head("verify", use: verify)
    }

    @Sendable func verify(request: Request, context: GatewayContext) async throws -> Response {
        var headers: HTTPFields = [.cacheControl: "no-store"]
        IdentityHeaders.set(try context.requireClaims(), in: &headers)
        return Response(status: .ok, headers: headers)
    }
}
