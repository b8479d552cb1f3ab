// GatewayComponents: the gateway's parts, built once from the configuration and shared by the
// HTTP server and the operator CLI.
public import Foundation
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
    public let service: SessionService
    public let registry: PrometheusCollectorRegistry
    public let logger: Logger

    public init(config: GatewayConfig, keys: KeyRing, logger: Logger, registry: PrometheusCollectorRegistry = .init()) async throws {
        self.config = config
        self.keys = LiveKeyRing(keys)
        keyReloader = KeyRingReloader(config: config, ring: self.keys, logger: logger)
        self.logger = logger
        self.registry = registry
        store = try Self.openStore(config)
        pool = UpstreamPool(capacity: config.poolSize, idleTimeout: config.poolIdle)
        revocations = RevocationView()
        do {
            switch config.provider {
            case "shotgrid":
                provider = ShotGridProvider(
                    baseURL: config.shotgridURL ?? "", timeout: config.upstreamTimeout, pool: pool, sealer: Sealer(ring: self.keys))
            default:
                provider = try await LocalProvider(store: store, hasher: PasswordHasher())
            }
        } catch {
            await store.close()
            throw error
        }
        service = SessionService(
            config: config, store: store, provider: provider, keys: self.keys, keyReloader: keyReloader, pool: pool,
            revocations: revocations, logger: logger)
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
        await store.close()
    }
}
