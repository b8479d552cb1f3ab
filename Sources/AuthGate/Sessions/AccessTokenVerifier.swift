// AccessTokenVerifier: checks an access token the way /auth/verify, the bearer authenticator and
// the reverse proxy all must: signature and claims (JWTCodec), a key ring reload for a key this
// instance lacks, and this instance's revocation view. Never a store round trip.
public import Foundation

public final class AccessTokenVerifier: Sendable {
    public let jwt: JWTCodec
    let keyReloader: KeyRingReloader?
    let revocations: RevocationView
    /// How long the revocation view is trusted after the store stopped answering.
    let failStatic: TimeInterval

    public init(jwt: JWTCodec, keyReloader: KeyRingReloader?, revocations: RevocationView, failStatic: TimeInterval) {
        self.jwt = jwt
        self.keyReloader = keyReloader
        self.revocations = revocations
        self.failStatic = failStatic
    }

    /// The claims of a valid, unrevoked token. With `ignoringExpiry` (logout only) an expired but
    /// authentic token is accepted, so a user can always end their session.
    public func verify(_ token: String, now: Date = Date(), ignoringExpiry: Bool = false) async throws(SessionError) -> AccessClaims {
        guard !token.isEmpty else { throw .invalidToken(tokenSent: false) }
        var verified = Result { () throws(JWTError) in try jwt.verify(token, now: now, ignoringExpiry: ignoringExpiry) }
        // A key this server lacks may have just been rotated in by another instance.
        if case .failure(.unknownKey) = verified, let keyReloader, await keyReloader.reloadForUnknownKey() {
            verified = Result { () throws(JWTError) in try jwt.verify(token, now: now, ignoringExpiry: ignoringExpiry) }
        }
        guard case .success(let claims) = verified else { throw .invalidToken(tokenSent: true) }
        if !ignoringExpiry {
            // Fail static: past the window the view may miss revocations, so refuse to vouch.
            guard revocations.isFresh(now: now, failStatic: failStatic) else { throw .storeUnavailable }
            guard !revocations.isRevoked(sessionID: claims.sid, jti: claims.jti) else { throw .invalidToken(tokenSent: true) }
        }
        return claims
    }

    /// The claims of a valid, unrevoked token, checked without suspending; nil for anything else
    /// (including a key this instance lacks, which `verify` reloads): the channel-level proxy takes
    /// only what verifies here and hands the rest to `verify` for its exact error.
    func verifiedNow(_ token: String, now: Date = Date()) -> AccessClaims? {
        guard !token.isEmpty, let claims = try? jwt.verify(token, now: now),
            revocations.isFresh(now: now, failStatic: failStatic),
            !revocations.isRevoked(sessionID: claims.sid, jti: claims.jti)
        else { return nil }
        return claims
    }
}
