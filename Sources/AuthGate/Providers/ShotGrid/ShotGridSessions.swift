// ShotGridSessions: each session's ShotGrid link in the upstream pool: found there, or rebuilt
// from the sealed tokens in the store (another instance signed the user in, or the entry was
// evicted); its token renewed ahead of expiry, once however many callers ask at the same time,
// and the renewed tokens sealed back into the store so every instance sees them.
import Foundation
import Logging

final class ShotGridSessions: Sendable {
    let api: ShotGridAPI
    let pool: UpstreamPool
    let store: any SessionStore
    let sealer: Sealer
    let workers: BlockingPool
    let breaker: CircuitBreaker
    let keyReloader: KeyRingReloader?
    let timeout: TimeInterval
    let logger: Logger

    init(
        api: ShotGridAPI, pool: UpstreamPool, store: any SessionStore, sealer: Sealer, workers: BlockingPool, breaker: CircuitBreaker,
        keyReloader: KeyRingReloader?, timeout: TimeInterval, logger: Logger
    ) {
        self.breaker = breaker
        self.keyReloader = keyReloader
        self.api = api
        self.pool = pool
        self.store = store
        self.sealer = sealer
        self.workers = workers
        self.timeout = timeout
        self.logger = logger
    }

    /// The pooled connection of a session whose record the caller holds (refresh).
    func connection(for session: SessionRecord, now: Date) async throws(ProviderError) -> UpstreamConnection {
        if let pooled = pool.connection(for: session.id, now: now), pooled.tokens != nil { return pooled }
        return try await rebuild(session, now: now)
    }

    /// A new pool entry from the session's sealed tokens. A sealing key this instance lacks may
    /// have just been rotated in (`keys rotate --reseal`): the key ring is read again first.
    private func rebuild(_ session: SessionRecord, now: Date) async throws(ProviderError) -> UpstreamConnection {
        guard let sealed = session.upstream else { throw .invalidCredentials }
        if sealer.keys.sealingKey(id: sealed.keyID) == nil, let keyReloader { _ = await keyReloader.reloadForUnknownKey() }
        let tokens: UpstreamTokens
        do { tokens = try UpstreamTokens.unseal(sealed, with: sealer, sessionID: session.id) } catch { throw .invalidCredentials }
        let connection = UpstreamConnection(timeout: timeout, tokens: tokens)
        pool.insert(connection, for: session.id, now: now)
        return connection
    }

    /// The pooled connection of a session known only by id (a proxied call): a miss reads the
    /// session from the store. A session of another provider has no ShotGrid link: access denied.
    func connection(sessionID: String, now: Date) async throws -> UpstreamConnection {
        if let pooled = pool.connection(for: sessionID, now: now), pooled.tokens != nil { return pooled }
        guard let session = try await store.session(id: sessionID, now: now), session.isLive(at: now) else {
            throw SessionError.invalidToken(tokenSent: true)
        }
        guard session.provider == "shotgrid" else { throw SessionError.accessDenied("this session has no ShotGrid sign-in") }
        return try await rebuild(session, now: now)
    }

    /// The session's ShotGrid tokens, renewed first when due (or when `force`d after a 401).
    func tokens(_ connection: UpstreamConnection, sessionID: String, now: Date, force: Bool = false) async throws -> UpstreamTokens {
        guard let current = connection.tokens else { throw ProviderError.invalidCredentials }
        if !force && !current.needsRenewal(at: now) { return current }
        return try await connection.renewOnce { [self] in
            // A caller that waited may find the renewal already done.
            if let latest = connection.tokens, latest.accessToken != current.accessToken { return latest }
            return try await renew(connection, sessionID: sessionID, tokens: current, now: now)
        }
    }

    private func renew(_ connection: UpstreamConnection, sessionID: String, tokens: UpstreamTokens, now: Date) async throws -> UpstreamTokens {
        guard let refreshToken = tokens.refreshToken else { throw ProviderError.invalidCredentials }
        let api = self.api
        let renewed: UpstreamTokens
        do {
            renewed = try await breaker.run(
                refused: ProviderError.unavailable("ShotGrid presumed down (circuit open)"), isFailure: ShotGridProvider.isOutage
            ) {
                try await workers.run { () throws -> UpstreamTokens in
                    var renewed = try api.refreshGrant(connection, refreshToken: refreshToken, now: now)
                    // ShotGrid may or may not rotate the refresh token; keep the old one if it did not.
                    if renewed.refreshToken == nil { renewed.refreshToken = refreshToken }
                    return renewed
                }
            }
        } catch ProviderError.invalidCredentials {
            // Another instance may have renewed first and spent the refresh token we hold.
            if let stored = try await storedTokens(sessionID: sessionID, now: now), stored.accessToken != tokens.accessToken,
                !stored.needsRenewal(at: now)
            {
                connection.setTokens(stored)
                return stored
            }
            throw ProviderError.invalidCredentials
        } catch BlockingPoolError.saturated {
            throw SessionError.overloaded
        }
        connection.setTokens(renewed)
        try await store.updateUpstream(sessionID: sessionID, upstream: renewed.sealed(with: sealer, sessionID: sessionID), replacing: nil)
        return renewed
    }

    private func storedTokens(sessionID: String, now: Date) async throws -> UpstreamTokens? {
        guard let sealed = try await store.session(id: sessionID, now: now)?.upstream else { return nil }
        return try? UpstreamTokens.unseal(sealed, with: sealer, sessionID: sessionID)
    }
}
