// Revoker: ends sessions and blocks access tokens: in the store (other instances pick it up on
// their next revocation poll), in this instance's revocation view (effective at once) and in the
// upstream pool (the session's upstream token leaves memory). Also the operator's policies:
// what removing a user ends, and how long a blocked token stays blocked.
public import Foundation
public import Logging

/// Who ended a session: the audit trail's `by` field, and which pool eviction it counts as.
public enum RevokedBy: String, Sendable {
    /// The user: logout, logout-all, deleting one of their own sessions.
    case user
    /// An operator, through the CLI.
    case `operator`
    /// A rotated refresh token came back after the grace: a copy is in use.
    case reuse
    /// The identity provider refused to renew the session's upstream token.
    case provider

    var poolReason: UpstreamPool.EvictionReason { self == .user ? .logout : .revoked }
}

public struct Revoker: Sendable {
    let store: any SessionStore
    /// This instance's view, pool and session cache; nil in the CLI, which has none.
    let view: RevocationView?
    let pool: UpstreamPool?
    let cache: SessionCache?
    let sessionMaxTTL: TimeInterval
    let audit: AuditLog
    let logger: Logger

    public init(
        store: any SessionStore, view: RevocationView?, pool: UpstreamPool?, cache: SessionCache? = nil, sessionMaxTTL: TimeInterval,
        audit: AuditLog = AuditLog(), logger: Logger
    ) {
        self.audit = audit
        self.store = store
        self.view = view
        self.pool = pool
        self.cache = cache
        self.sessionMaxTTL = sessionMaxTTL
        self.logger = logger
    }

    /// Revokes one session everywhere; false when it was not live. A user's own logout is
    /// audited as `session.logged_out`, anything else as `session.revoked` with who did it.
    @discardableResult
    public func revokeSession(
        id: String, expiresAt: Date? = nil, now: Date = Date(), by: RevokedBy, user: String? = nil, logout: Bool = false
    ) async throws(SessionError) -> Bool {
        let revoked = try await storeCall(logger) { try await store.revokeSession(id: id, at: now) }
        forget([id], expiresAt: expiresAt ?? now.addingTimeInterval(sessionMaxTTL), by: by)
        if revoked {
            if logout {
                audit.record(.sessionLoggedOut, user: user, sessionID: id)
            } else {
                audit.record(.sessionRevoked, user: user, sessionID: id, by: by.rawValue)
            }
        }
        return revoked
    }

    /// Revokes every live session the filter selects; returns their ids.
    @discardableResult
    public func revokeSessions(_ filter: SessionFilter, now: Date = Date(), by: RevokedBy) async throws(SessionError) -> [String] {
        let ids = try await storeCall(logger) { try await store.revokeSessions(filter, at: now) }
        forget(ids, expiresAt: now.addingTimeInterval(sessionMaxTTL), by: by)
        let user: String? = if case .login(let login) = filter { login } else { nil }
        for id in ids { audit.record(.sessionRevoked, user: user, sessionID: id, by: by.rawValue) }
        return ids
    }

    /// Blocks one access token until it can no longer verify anyway (its expiry plus the skew).
    public func blockAccessToken(jti: String, sessionID: String, expiresAt: Date, now: Date = Date()) async throws(SessionError) {
        let until = expiresAt.addingTimeInterval(JWTCodec.clockSkew)
        try await storeCall(logger) {
            try await store.revokeToken(RevokedToken(jti: jti, sessionID: sessionID, revokedAt: now, expiresAt: until))
        }
        view?.addToken(jti, expiresAt: until)
    }

    /// The operator's `tokens revoke JTI`: only the id is known, not the expiry, so the token is
    /// blocked for the longest an access token can live. Tokens never outlive their session, so
    /// that is the session's absolute lifetime, whatever the access TTL the servers use.
    public func blockAccessToken(jti: String, now: Date = Date()) async throws(SessionError) {
        try await blockAccessToken(jti: jti, sessionID: "", expiresAt: now.addingTimeInterval(sessionMaxTTL), now: now)
        audit.record(.tokenRevoked, by: RevokedBy.operator.rawValue, details: ["jti": .string(jti)])
    }

    /// The operator's `users remove`: the user goes, and so does every session they hold.
    /// Returns false when there was no such user.
    public func removeUser(login: String, now: Date = Date()) async throws(SessionError) -> Bool {
        guard try await storeCall(logger, { try await store.deleteUser(login: login) }) else { return false }
        audit.record(.userRemoved, user: login, by: RevokedBy.operator.rawValue)
        try await revokeSessions(.login(login), now: now, by: .operator)
        return true
    }

    private func forget(_ ids: [String], expiresAt: Date, by: RevokedBy) {
        for id in ids {
            view?.addSession(id, expiresAt: expiresAt)
            cache?.remove(id)
            pool?.evict(id, reason: by.poolReason)
        }
    }
}
