// SessionDirectory: the signed-in user's own sessions: the one behind an access token (/auth/me)
// and the list (/auth/sessions), plus logout by access or refresh token.
public import Foundation
public import Logging

public struct SessionDirectory: Sendable {
    let store: any SessionStore
    let revoker: Revoker
    let cache: SessionCache
    let logger: Logger
    /// last_seen_at is written back at most this often per session, not on every request.
    static let touchInterval: TimeInterval = 60

    public init(store: any SessionStore, revoker: Revoker, cache: SessionCache, logger: Logger) {
        self.store = store
        self.revoker = revoker
        self.cache = cache
        self.logger = logger
    }

    /// The live session behind an access token (already verified, so not revoked as far as this
    /// instance's revocation view knows): from the cache, or the store on a miss.
    public func session(for claims: AccessClaims, now: Date = Date()) async throws(SessionError) -> SessionCache.Entry {
        var entry = cache.get(claims.sid, now: now)
        if entry == nil {
            guard let session = try await storeCall(logger, { try await store.session(id: claims.sid, now: now) }), session.isLive(at: now) else {
                throw .invalidToken(tokenSent: true)
            }
            cache.put(session, now: now)
            entry = SessionCache.Entry(session, cachedAt: now)
        }
        guard var found = entry else { throw .invalidToken(tokenSent: true) }
        if now.timeIntervalSince(found.lastSeenAt) >= Self.touchInterval {
            found.lastSeenAt = now
            touch(claims.sid, at: now)
        }
        return found
    }

    /// Writes last_seen_at back without holding up the answer; a failure only loses a timestamp.
    private func touch(_ id: String, at now: Date) {
        cache.touch(id, lastSeenAt: now)
        Task { [store, logger] in
            do { try await store.touchSession(id: id, lastSeenAt: now) } catch {
                logger.debug("last_seen_at not written", metadata: ["authgate.session.id": "\(id)", "error": "\(error)"])
            }
        }
    }

    public func sessions(userID: String, now: Date = Date()) async throws(SessionError) -> [SessionRecord] {
        try await storeCall(logger) { try await store.sessions(.userID(userID), now: now) }
    }

    /// Ends one of the user's own sessions; another user's is "not found", not "forbidden".
    public func revoke(sessionID: String, ownedBy userID: String, now: Date = Date()) async throws(SessionError) {
        guard let session = try await sessions(userID: userID, now: now).first(where: { $0.id == sessionID }) else {
            throw .notFound
        }
        try await revoker.revokeSession(id: session.id, expiresAt: session.expiresAt, now: now, by: .user, user: session.user.login)
    }

    /// Logout with an access token (even an expired one): the token is blocked and its session ends.
    public func logout(claims: AccessClaims, now: Date = Date()) async throws(SessionError) {
        try await revoker.blockAccessToken(jti: claims.jti, sessionID: claims.sid, expiresAt: claims.expiresAt, now: now)
        try await revoker.revokeSession(id: claims.sid, now: now, by: .user, user: claims.login, logout: true)
    }

    /// Logout with a refresh token; an unknown one ends nothing and is not an error (idempotent).
    public func logout(refreshToken presented: String, now: Date = Date()) async throws(SessionError) {
        guard RefreshToken.isWellFormed(presented) else { return }
        let hash = RefreshToken.hash(presented)
        guard let session = try await storeCall(logger, { try await store.session(refreshHash: hash, now: now) }) else { return }
        try await revoker.revokeSession(id: session.id, expiresAt: session.expiresAt, now: now, by: .user, user: session.user.login, logout: true)
    }

    public func logoutAll(userID: String, now: Date = Date()) async throws(SessionError) {
        try await revoker.revokeSessions(.userID(userID), now: now, by: .user)
    }
}
