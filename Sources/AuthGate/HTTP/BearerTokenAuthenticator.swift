// BearerTokenAuthenticator: verifies `Authorization: Bearer` access tokens. No header passes
// through (the route decides); a bad token is rejected here with 401 invalid_token.
public import Hummingbird
public import HummingbirdAuth
import Foundation

public struct BearerTokenAuthenticator: AuthenticatorMiddleware {
    public typealias Context = GatewayContext
    let service: SessionService

    public init(service: SessionService) { self.service = service }

    public func authenticate(request: Request, context: GatewayContext) async throws -> AccessClaims? {
        guard let header = request.headers[.authorization] else { return nil }
        return try await service.authenticate(bearer: try BearerTokenAuthenticator.token(from: header))
    }

    /// The token of an `Authorization: Bearer` header; the scheme is case-insensitive (RFC 7235).
    static func token(from header: String) throws -> String {
        guard header.count > 7, header.prefix(7).lowercased() == "bearer " else {
            throw GatewayError.invalidToken(tokenSent: !header.isEmpty)
        }
        let token = header.dropFirst(7).trimmingCharacters(in: .whitespaces)
        guard !token.isEmpty else { throw GatewayError.invalidToken(tokenSent: false) }
        return token
    }
}
