// RefreshFlow: exchanges a refresh token for new tokens, rotating it; renews the upstream token
// when it is due; detects a rotated token presented after the grace (theft) and ends the session.
public import Foundation
public import Logging

public final class RefreshFlow: Sendable {
    /// A rotated refresh token still works this long (concurrent tabs).
    public static let refreshGrace: TimeInterval = 10
    static let maxLiveRefreshTokens = 8
    static let maxRetiredRefreshTokens = 32
    /// Compare-and-set attempts: each lost one means another refresh of the session won, so
    /// this covers every live token of a session refreshing at once, with room for siblings.
    static let maxUpdateAttempts = 2 * maxLiveRefreshTokens

    let store: any SessionStore
    let provider: any IdentityProvider
    let issuer: TokenIssuer
    let revoker: Revoker
    let cache: SessionCache
    let audit: AuditLog
    let sessionIdleTTL: TimeInterval
    let logger: Logger

    public init(
        store: any SessionStore, provider: any IdentityProvider, issuer: TokenIssuer, revoker: Revoker, cache: SessionCache,
        audit: AuditLog, sessionIdleTTL: TimeInterval, logger: Logger
    ) {
        self.cache = cache
        self.audit = audit
        self.store = store
        self.provider = provider
        self.issuer = issuer
        self.revoker = revoker
        self.sessionIdleTTL = sessionIdleTTL
        self.logger = logger
    }

    public func refresh(refreshToken presented: String, now: Date = Date()) async throws(SessionError) -> IssuedTokens {
        guard RefreshToken.isWellFormed(presented) else { throw .invalidGrant }
        let hash = RefreshToken.hash(presented)
        // Compare-and-set on the session's version; a concurrent refresh of the same session makes
        // this one read again.
        for _ in 0..<Self.maxUpdateAttempts {
            guard var session = try await storeCall(logger, { try await store.session(refreshHash: hash, now: now) }),
                session.revokedAt == nil, session.isLive(at: now),
                let index = session.refreshTokens.firstIndex(where: { $0.hash == hash })
            else { throw .invalidGrant }

            let entry = session.refreshTokens[index]
            if let retiredAt = entry.retiredAt, now.timeIntervalSince(retiredAt) > Self.refreshGrace || entry.siblingIssued {
                // A rotated token came back after the grace, or a third time within it: it was
                // copied (two tabs account for one rotation and one sibling). End the session.
                audit.record(.refreshReuseDetected, user: session.user.login, sessionID: session.id)
                try await revoker.revokeSession(id: session.id, expiresAt: session.expiresAt, now: now, by: .reuse, user: session.user.login)
                throw .invalidGrant
            }

            let expectedVersion = session.version
            do {
                // Renewed tokens are sealed into the store by the provider (the version moves on):
                // read the session again and carry on with them.
                if try await provider.renewIfNeeded(session: session, now: now) != nil { continue }
            } catch ProviderError.invalidCredentials {
                try await revoker.revokeSession(id: session.id, expiresAt: session.expiresAt, now: now, by: .provider, user: session.user.login)
                throw .invalidGrant
            } catch let error as SessionError {
                throw error
            } catch is StoreError {
                throw .storeUnavailable  // the renewed tokens could not be stored
            } catch {
                throw .upstreamUnavailable
            }

            let next = RefreshToken.generate()
            if entry.retiredAt == nil {
                session.refreshTokens[index].retiredAt = now
            } else {
                session.refreshTokens[index].siblingIssued = true
            }
            session.refreshTokens.append(RefreshTokenEntry(hash: RefreshToken.hash(next.value), issuedAt: now))
            session.refreshTokens = Self.pruned(session.refreshTokens)
            session.lastSeenAt = now
            session.idleExpiresAt = min(now.addingTimeInterval(sessionIdleTTL), session.expiresAt)
            session.version = expectedVersion + 1
            let updated = session
            if try await storeCall(logger, { try await store.updateSession(updated, expectedVersion: expectedVersion) }) {
                cache.put(updated, now: now)
                audit.record(.tokenRefreshed, user: updated.user.login, sessionID: updated.id)
                return try issuer.issue(session: updated, refreshToken: next, now: now)
            }
        }
        throw .storeUnavailable
    }

    /// Keeps the newest live and retired entries: enough for concurrent tabs and reuse detection.
    static func pruned(_ entries: [RefreshTokenEntry]) -> [RefreshTokenEntry] {
        let live = entries.filter { $0.retiredAt == nil }.suffix(maxLiveRefreshTokens)
        let retired = entries.filter { $0.retiredAt != nil }.suffix(maxRetiredRefreshTokens)
        return Array(retired) + Array(live)
    }
}
