// SessionService: the gateway's flows (login, refresh with rotation, logout, revocation) over a
// store, a provider, the key ring and the upstream pool. HTTP-agnostic: the routes call it.
public import Foundation
public import Logging

public final class SessionService: Sendable {
    /// A rotated refresh token still works this long (concurrent tabs).
    public static let refreshGrace: TimeInterval = 10
    static let maxLiveRefreshTokens = 8
    static let maxRetiredRefreshTokens = 32

    public let config: GatewayConfig
    public let store: any SessionStore
    public let provider: any IdentityProvider
    public let jwt: JWTCodec
    public let sealer: Sealer
    public let pool: UpstreamPool
    public let revocations: RevocationView
    let keyReloader: KeyRingReloader?
    let logger: Logger

    public init(
        config: GatewayConfig, store: any SessionStore, provider: any IdentityProvider, keys: LiveKeyRing,
        keyReloader: KeyRingReloader? = nil, pool: UpstreamPool, revocations: RevocationView, logger: Logger
    ) {
        self.config = config
        self.store = store
        self.provider = provider
        jwt = JWTCodec(ring: keys, issuer: config.issuer, audience: config.audience)
        sealer = Sealer(ring: keys)
        self.keyReloader = keyReloader
        self.pool = pool
        self.revocations = revocations
        self.logger = logger
    }

    // MARK: Login

    public func login(login rawLogin: String, password: Secret<String>, clientIP: String, userAgent: String, now: Date = Date()) async throws -> IssuedTokens {
        let login = rawLogin.trimmingCharacters(in: .whitespaces)
        guard !login.isEmpty, login.utf8.count <= 256, !password.value.isEmpty, password.value.utf8.count <= 1024 else {
            throw GatewayError.invalidRequest("username and password are required")
        }
        let keys = ["user:" + login.lowercased(), "ip:" + clientIP]
        try await storeCall {
            for key in keys {
                if let until = try await store.loginBan(key: key, now: now) {
                    throw GatewayError.rateLimited(retryAfter: Int(until.timeIntervalSince(now).rounded(.up)))
                }
            }
        }
        let signedIn: ProviderLogin
        do {
            signedIn = try await provider.authenticate(login: login, password: password)
        } catch ProviderError.invalidCredentials {
            logger.info("login refused", metadata: ["authgate.login": "\(login)", "authgate.client.ip": "\(clientIP)"])
            try await storeCall {
                for key in keys {
                    _ = try await store.recordLoginFailure(
                        key: key, now: now, window: config.loginWindow, maxFailures: config.loginMaxFailures, ban: config.loginBan)
                }
            }
            throw GatewayError.invalidGrant
        } catch let error as ProviderError {
            logger.error("identity provider unavailable", metadata: ["error": "\(error)"])
            throw GatewayError.upstreamUnavailable
        } catch let error as StoreError {
            logger.error("store error during login", metadata: ["error": "\(error)"])
            throw GatewayError.storeUnavailable
        }

        let refreshToken = RefreshToken.generate()
        let sessionID = Identifier.random()
        let expiresAt = now.addingTimeInterval(config.sessionMaxTTL)
        let session = SessionRecord(
            id: sessionID, user: signedIn.user, provider: provider.name,
            upstream: signedIn.upstream.map { $0.sealed(with: sealer, sessionID: sessionID) },
            refreshTokens: [RefreshTokenEntry(hash: RefreshToken.hash(refreshToken.value), issuedAt: now)],
            createdAt: now, lastSeenAt: now, idleExpiresAt: min(now.addingTimeInterval(config.sessionIdleTTL), expiresAt),
            expiresAt: expiresAt, clientIP: clientIP, userAgent: String(userAgent.prefix(512)))
        do {
            try await storeCall {
                try await store.insertSession(session)
                for key in keys { try await store.clearLoginFailures(key: key) }
            }
        } catch {
            signedIn.connection?.close()
            throw error
        }
        if let connection = signedIn.connection { pool.insert(connection, for: sessionID, now: now) }
        logger.info("login", metadata: ["authgate.session.id": "\(sessionID)", "authgate.login": "\(signedIn.user.login)"])
        return issue(session: session, refreshToken: refreshToken, now: now)
    }

    // MARK: Refresh

    public func refresh(refreshToken presented: String, now: Date = Date()) async throws -> IssuedTokens {
        guard RefreshToken.isWellFormed(presented) else { throw GatewayError.invalidGrant }
        let hash = RefreshToken.hash(presented)
        for _ in 0..<5 {
            guard var session = try await storeCall({ try await store.session(refreshHash: hash, now: now) }),
                session.revokedAt == nil, session.isLive(at: now),
                let index = session.refreshTokens.firstIndex(where: { $0.hash == hash })
            else { throw GatewayError.invalidGrant }

            let entry = session.refreshTokens[index]
            if let retiredAt = entry.retiredAt, now.timeIntervalSince(retiredAt) > Self.refreshGrace {
                // A rotated token came back after the grace: it was copied. End the session.
                logger.warning("refresh token reuse; revoking session", metadata: ["authgate.session.id": "\(session.id)"])
                try await revoke(sessionID: session.id, expiresAt: session.expiresAt, now: now)
                throw GatewayError.invalidGrant
            }

            let expectedVersion = session.version
            do {
                if let renewed = try await provider.renewIfNeeded(session: session, now: now) {
                    session.upstream = renewed.sealed(with: sealer, sessionID: session.id)
                }
            } catch ProviderError.invalidCredentials {
                logger.info("provider refused renewal; revoking session", metadata: ["authgate.session.id": "\(session.id)"])
                try await revoke(sessionID: session.id, expiresAt: session.expiresAt, now: now)
                throw GatewayError.invalidGrant
            } catch is ProviderError {
                throw GatewayError.upstreamUnavailable
            }

            let next = RefreshToken.generate()
            if entry.retiredAt == nil { session.refreshTokens[index].retiredAt = now }
            session.refreshTokens.append(RefreshTokenEntry(hash: RefreshToken.hash(next.value), issuedAt: now))
            session.refreshTokens = Self.pruned(session.refreshTokens)
            session.lastSeenAt = now
            session.idleExpiresAt = min(now.addingTimeInterval(config.sessionIdleTTL), session.expiresAt)
            session.version = expectedVersion + 1
            let updated = session
            if try await storeCall({ try await store.updateSession(updated, expectedVersion: expectedVersion) }) {
                return issue(session: updated, refreshToken: next, now: now)
            }
            // Another refresh of this session won the race: read again and retry.
        }
        throw GatewayError.storeUnavailable
    }

    /// Keeps the newest live and retired entries: enough for concurrent tabs and reuse detection.
    static func pruned(_ entries: [RefreshTokenEntry]) -> [RefreshTokenEntry] {
        let live = entries.filter { $0.retiredAt == nil }.suffix(maxLiveRefreshTokens)
        let retired = entries.filter { $0.retiredAt != nil }.suffix(maxRetiredRefreshTokens)
        return Array(retired) + Array(live)
    }

    // MARK: Access tokens

    func issue(session: SessionRecord, refreshToken: Secret<String>, now: Date) -> IssuedTokens {
        let issuedAt = Int64(now.timeIntervalSince1970)
        let expires = min(issuedAt + Int64(config.accessTTL), Int64(session.expiresAt.timeIntervalSince1970))
        let claims = AccessClaims(
            iss: config.issuer, aud: config.audience, sub: session.user.id, sid: session.id, jti: Identifier.random(),
            iat: issuedAt, nbf: issuedAt, exp: expires, login: session.user.login, email: session.user.email,
            name: session.user.name)
        return IssuedTokens(
            accessToken: jwt.sign(claims), expiresIn: Int(expires - issuedAt), refreshToken: refreshToken,
            refreshExpiresIn: max(0, Int(session.idleExpiresAt.timeIntervalSince(now))), session: session)
    }

    /// Verifies a bearer token against the keys and this instance's revocation view.
    public func authenticate(bearer: String?, now: Date = Date(), ignoringExpiry: Bool = false) async throws -> AccessClaims {
        guard let bearer, !bearer.isEmpty else { throw GatewayError.invalidToken(tokenSent: false) }
        var verified = Result { () throws(JWTError) in try jwt.verify(bearer, now: now, ignoringExpiry: ignoringExpiry) }
        // A key this server lacks may have just been rotated in by another instance.
        if case .failure(.unknownKey) = verified, let keyReloader, await keyReloader.reloadForUnknownKey() {
            verified = Result { () throws(JWTError) in try jwt.verify(bearer, now: now, ignoringExpiry: ignoringExpiry) }
        }
        guard case .success(let claims) = verified else { throw GatewayError.invalidToken(tokenSent: true) }
        if !ignoringExpiry {
            // Fail static: past the window the view may miss revocations, so refuse to vouch.
            guard revocations.isFresh(now: now, failStatic: config.storeFailStatic) else { throw GatewayError.storeUnavailable }
            guard !revocations.isRevoked(sessionID: claims.sid, jti: claims.jti) else { throw GatewayError.invalidToken(tokenSent: true) }
        }
        return claims
    }

    /// The live session behind an access token.
    public func session(for claims: AccessClaims, now: Date = Date()) async throws -> SessionRecord {
        guard let session = try await storeCall({ try await store.session(id: claims.sid, now: now) }), session.isLive(at: now) else {
            throw GatewayError.invalidToken(tokenSent: true)
        }
        return session
    }

    // MARK: Logout and revocation

    public func logout(claims: AccessClaims, now: Date = Date()) async throws {
        try await storeCall {
            try await store.revokeToken(
                RevokedToken(jti: claims.jti, sessionID: claims.sid, revokedAt: now, expiresAt: claims.expiresAt.addingTimeInterval(JWTCodec.clockSkew)))
        }
        revocations.addToken(claims.jti, expiresAt: claims.expiresAt.addingTimeInterval(JWTCodec.clockSkew))
        try await revoke(sessionID: claims.sid, expiresAt: now.addingTimeInterval(config.sessionMaxTTL), now: now)
    }

    public func logout(refreshToken presented: String, now: Date = Date()) async throws {
        guard RefreshToken.isWellFormed(presented) else { return }
        let hash = RefreshToken.hash(presented)
        guard let session = try await storeCall({ try await store.session(refreshHash: hash, now: now) }) else { return }
        try await revoke(sessionID: session.id, expiresAt: session.expiresAt, now: now)
    }

    public func logoutAll(userID: String, now: Date = Date()) async throws {
        let ids = try await storeCall { try await store.revokeSessions(.userID(userID), at: now) }
        for id in ids {
            revocations.addSession(id, expiresAt: now.addingTimeInterval(config.sessionMaxTTL))
            pool.evict(id)
        }
    }

    /// Revokes one session everywhere: store (other instances see it on their next poll), this
    /// instance's view (effective at once), and the pool (its upstream token leaves memory).
    public func revoke(sessionID: String, expiresAt: Date, now: Date = Date()) async throws {
        _ = try await storeCall { try await store.revokeSession(id: sessionID, at: now) }
        revocations.addSession(sessionID, expiresAt: expiresAt)
        pool.evict(sessionID)
        logger.info("session revoked", metadata: ["authgate.session.id": "\(sessionID)"])
    }

    public func sessions(userID: String, now: Date = Date()) async throws -> [SessionRecord] {
        try await storeCall { try await store.sessions(.userID(userID), now: now) }
    }

    /// Store failures become 503 store_unavailable; gateway errors pass through.
    func storeCall<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as GatewayError {
            throw error
        } catch {
            logger.error("store operation failed", metadata: ["error": "\(error)"])
            throw GatewayError.storeUnavailable
        }
    }
}
