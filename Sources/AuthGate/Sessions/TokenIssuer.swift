// TokenIssuer: mints the access tokens of login and refresh, and the short internal tokens the
// reverse proxy hands to upstreams that ask for them.
public import Foundation

public struct TokenIssuer: Sendable {
    public let jwt: JWTCodec
    let accessTTL: TimeInterval
    /// Internal tokens for upstreams live this long: enough for one request, useless when leaked.
    public static let internalTokenLifetime: Int64 = 60

    public init(jwt: JWTCodec, accessTTL: TimeInterval) {
        self.jwt = jwt
        self.accessTTL = accessTTL
    }

    /// The token response for a session and its new refresh token. The access token never
    /// outlives its session.
    func issue(session: SessionRecord, refreshToken: Secret<String>, now: Date) throws(SessionError) -> IssuedTokens {
        let issuedAt = Int64(now.timeIntervalSince1970)
        let expires = min(issuedAt + Int64(accessTTL), Int64(session.expiresAt.timeIntervalSince1970))
        let claims = AccessClaims(
            iss: jwt.issuer, aud: jwt.audience, sub: session.user.id, sid: session.id, jti: Identifier.random(),
            iat: issuedAt, nbf: issuedAt, exp: expires, login: session.user.login, email: session.user.email,
            name: session.user.name)
        let token: String
        do { token = try jwt.sign(claims) } catch { throw .serverError }
        return IssuedTokens(
            accessToken: token, expiresIn: Int(expires - issuedAt), refreshToken: refreshToken,
            refreshExpiresIn: max(0, Int(session.idleExpiresAt.timeIntervalSince(now))), session: session)
    }

    /// A 60 s token for one upstream (`aud` = that upstream's audience) carrying the caller's identity.
    public func internalToken(for claims: AccessClaims, audience: String, now: Date = Date()) throws(SessionError) -> String {
        let issuedAt = Int64(now.timeIntervalSince1970)
        let internalClaims = AccessClaims(
            iss: jwt.issuer, aud: audience, sub: claims.sub, sid: claims.sid, jti: Identifier.random(), iat: issuedAt,
            nbf: issuedAt, exp: issuedAt + Self.internalTokenLifetime, login: claims.login, email: claims.email, name: claims.name)
        do { return try jwt.sign(internalClaims) } catch { throw .serverError }
    }
}
