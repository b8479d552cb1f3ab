// GatewayComponents: the gateway's parts, built once from the configuration and shared by the
// HTTP server, the tests and the operator CLI.
import Foundation
public import Logging
public import Prometheus

public final class GatewayComponents: Sendable {
    public let config: GatewayConfig
    public let keys: LiveKeyRing
    public let keyReloader: KeyRingReloader
    public let store: any SessionStore
    public let provider: any IdentityProvider
    public let pool: UpstreamPool
    public let revocations: RevocationView
    public let sessionCache: SessionCache
    public let verifier: AccessTokenVerifier
    public let issuer: TokenIssuer
    public let revoker: Revoker
    public let loginFlow: LoginFlow
    public let refreshFlow: RefreshFlow
    public let directory: SessionDirectory
    public let readiness: ReadinessProbe
    public let clientAddress: ClientAddress
    public let httpForwarder: HTTPForwarder
    /// The reverse proxy for plain-HTTP routes, in the server's channel pipeline.
    let channelProxy: ChannelProxy
    let shotgridForwarder: ShotGridForwarder?
    public let registry: PrometheusCollectorRegistry
    public let logger: Logger

    public init(config: GatewayConfig, keys: KeyRing, logger: Logger, registry: PrometheusCollectorRegistry = .init()) async throws {
        // A broken HMAC must stop the gateway, not sign or verify with garbage.
        try HMACSHA256.selfTest()
        self.config = config
        self.keys = LiveKeyRing(keys)
        keyReloader = KeyRingReloader(config: config, ring: self.keys, logger: logger)
        self.logger = logger
        self.registry = registry
        store = try Self.openStore(config)
        pool = UpstreamPool(capacity: config.poolSize, idleTimeout: config.poolIdle)
        // A revoked session's tokens can be presented until they expire: issued at most the access
        // TTL before the revocation, with the skew, and a minute for instances' clocks.
        revocations = RevocationView(horizon: config.accessTTL + JWTCodec.clockSkew + 60)
        sessionCache = SessionCache(capacity: config.sessionCacheSize, idleTimeout: config.poolIdle)
        let sealer = Sealer(ring: self.keys)
        do {
            switch config.provider {
            case "shotgrid":
                provider = ShotGridProvider(
                    baseURL: config.shotgridURL ?? "", timeout: config.upstreamTimeout, pool: pool, store: store, sealer: sealer, logger: logger,
                    keyReloader: keyReloader, circuitCooldown: config.shotgridCircuitCooldown)
            default:
                provider = try await LocalProvider(store: store, hasher: PasswordHasher())
            }
        } catch {
            await store.close()
            throw error
        }
        let jwt = JWTCodec(ring: self.keys, issuer: config.issuer, audience: config.audience)
        verifier = AccessTokenVerifier(jwt: jwt, keyReloader: keyReloader, revocations: revocations, failStatic: config.storeFailStatic)
        issuer = TokenIssuer(jwt: jwt, accessTTL: config.accessTTL)
        let audit = AuditLog()
        revoker = Revoker(
            store: store, view: revocations, pool: pool, cache: sessionCache, sessionMaxTTL: config.sessionMaxTTL, audit: audit, logger: logger)
        let regulator = LoginRegulator(
            store: store, maxFailures: config.loginMaxFailures, window: config.loginWindow, ban: config.loginBan, audit: audit, logger: logger)
        loginFlow = LoginFlow(
            store: store, provider: provider, regulator: regulator, issuer: issuer, sealer: sealer, pool: pool, cache: sessionCache, audit: audit,
            sessionIdleTTL: config.sessionIdleTTL, sessionMaxTTL: config.sessionMaxTTL, logger: logger)
        refreshFlow = RefreshFlow(
            store: store, provider: provider, issuer: issuer, revoker: revoker, cache: sessionCache, audit: audit, sessionIdleTTL: config.sessionIdleTTL,
            logger: logger)
        directory = SessionDirectory(store: store, revoker: revoker, cache: sessionCache, logger: logger)
        readiness = ReadinessProbe(store: store, provider: provider, revocations: revocations, failStatic: config.storeFailStatic)
        clientAddress = ClientAddress(trustedProxies: config.trustedProxies, logger: logger)
        httpForwarder = HTTPForwarder()
        channelProxy = ChannelProxy(
            routes: config.routes, verifier: verifier, issuer: issuer, clientAddress: clientAddress,
            origins: OriginPolicy(allowedOrigins: config.allowedOrigins), logger: logger)
        if let shotgrid = provider as? ShotGridProvider {
            shotgridForwarder = ShotGridForwarder(provider: shotgrid, revoker: revoker)
        } else {
            shotgridForwarder = nil
        }
    }

    public static func openStore(_ config: GatewayConfig) throws -> any SessionStore {
        switch try config.storeKind() {
        case .sqlite(let path): try SQLiteSessionStore(path: path, timeout: config.storeTimeout)
        case .mongo(let uri): try MongoSessionStore(uri: uri, timeout: config.storeTimeout)
        }
    }

    public func shutdown() async {
        await provider.shutdown()
        pool.closeAll()
        await channelProxy.pools.shutDown()
        await store.close()
    }
}
