// LoginFlow: signs a user in: regulation, the provider's credential check, a new session in the
// store, the upstream connection into the pool, and the first tokens.
public import Foundation
public import Logging

public final class LoginFlow: Sendable {
    let store: any SessionStore
    let provider: any IdentityProvider
    let regulator: LoginRegulator
    let issuer: TokenIssuer
    let sealer: Sealer
    let pool: UpstreamPool
    let cache: SessionCache
    let audit: AuditLog
    let sessionIdleTTL: TimeInterval
    let sessionMaxTTL: TimeInterval
    let logger: Logger

    public init(
        store: any SessionStore, provider: any IdentityProvider, regulator: LoginRegulator, issuer: TokenIssuer, sealer: Sealer,
        pool: UpstreamPool, cache: SessionCache, audit: AuditLog, sessionIdleTTL: TimeInterval, sessionMaxTTL: TimeInterval, logger: Logger
    ) {
        self.cache = cache
        self.audit = audit
        self.store = store
        self.provider = provider
        self.regulator = regulator
        self.issuer = issuer
        self.sealer = sealer
        self.pool = pool
        self.sessionIdleTTL = sessionIdleTTL
        self.sessionMaxTTL = sessionMaxTTL
        self.logger = logger
    }

    public func login(login rawLogin: String, password: Secret<String>, clientIP: String, userAgent: String, now: Date = Date()) async throws(SessionError) -> IssuedTokens {
        let login = rawLogin.trimmingCharacters(in: .whitespaces)
        guard !password.value.isEmpty, password.value.utf8.count <= LocalUsers.maximumPasswordBytes else {
            throw .invalidRequest("username and password are required")
        }
        try LocalUsers.check(login: login)
        let started = Date()
        let signedIn: ProviderLogin = try await regulator.regulate(login: login, clientIP: clientIP, now: now) { () throws(SessionError) in
            do {
                return try await provider.authenticate(login: login, password: password)
            } catch ProviderError.invalidCredentials {
                audit.record(.loginFailed, user: login, clientIP: clientIP)
                throw .invalidGrant
            } catch let error as ProviderError {
                logger.error("identity provider unavailable", metadata: ["error": "\(error)"])
                throw .upstreamUnavailable
            } catch let error as SessionError {
                throw error
            } catch BlockingPoolError.saturated {
                throw .overloaded
            } catch {
                logger.error("store error during login", metadata: ["error": "\(error)"])
                throw .storeUnavailable
            }
        }

        // Lifetimes count from when the session is issued: a slow credential check (ShotGrid,
        // argon2id under load) must not shorten them, nor hand out a session already idle-expired.
        let now = now.addingTimeInterval(max(0, Date().timeIntervalSince(started)))
        let refreshToken = RefreshToken.generate()
        let sessionID = Identifier.random()
        let expiresAt = now.addingTimeInterval(sessionMaxTTL)
        let session = SessionRecord(
            id: sessionID, user: signedIn.user, provider: provider.name,
            upstream: signedIn.upstream.map { $0.sealed(with: sealer, sessionID: sessionID) },
            refreshTokens: [RefreshTokenEntry(hash: RefreshToken.hash(refreshToken.value), issuedAt: now)],
            createdAt: now, lastSeenAt: now, idleExpiresAt: min(now.addingTimeInterval(sessionIdleTTL), expiresAt),
            expiresAt: expiresAt, clientIP: clientIP, userAgent: String(userAgent.prefix(512)))
        do {
            try await storeCall(logger) { try await store.insertSession(session) }
        } catch {
            signedIn.connection?.close()
            throw error
        }
        if let connection = signedIn.connection { pool.insert(connection, for: sessionID, now: now) }
        cache.put(session, now: now)
        audit.record(.loginSucceeded, user: signedIn.user.login, sessionID: sessionID, clientIP: clientIP)
        return try issuer.issue(session: session, refreshToken: refreshToken, now: now)
    }
}
