// GatewayConfig: every setting, resolved once at start-up (flag > env > file > default).
public import Foundation

public struct GatewayConfig: Sendable {
    public var listenHost = "127.0.0.1"
    public var listenPort = 8080
    public var store = "sqlite:./authgate.db"
    public var provider = "local"
    public var shotgridURL: String?
    /// Lets `shotgrid-url` be plain http:// on a host other than loopback (tokens in the clear).
    public var shotgridAllowInsecure = false
    public var keysPath = "./authgate-keys.json"
    public var issuer = "authgate"
    public var audience = "authgate"
    public var accessTTL: TimeInterval = 900
    public var sessionIdleTTL: TimeInterval = 28800
    public var sessionMaxTTL: TimeInterval = 86400
    public var poolSize = 1024
    public var poolIdle: TimeInterval = 900
    /// Sessions kept in memory for /auth/me (idle limit: pool-idle).
    public var sessionCacheSize = 100_000
    public var upstreamTimeout: TimeInterval = 10
    public var storeTimeout: TimeInterval = 5
    public var storeFailStatic: TimeInterval = 30
    public var loginMaxFailures = 5
    public var loginWindow: TimeInterval = 300
    public var loginBan: TimeInterval = 300
    public var jwtSecret: Secret<String>?
    public var sealKey: Secret<String>?
    /// Origins allowed on cookie-authenticated requests, besides the gateway's own.
    public var allowedOrigins: [String] = []
    /// Peers whose X-Forwarded-For is believed (the reverse proxy in front): addresses or CIDR ranges.
    public var trustedProxies: [IPNetwork] = []
    /// A client connection idle (or still sending its headers) this long is closed.
    public var idleTimeout: TimeInterval = 60
    /// `text` or `json` (one JSON object per line).
    public var logFormat = "text"
    /// How often each instance reads new revocations from the store.
    public var revocationPollInterval: TimeInterval = 0.25
    /// How long ShotGrid is presumed down after repeated failures (not a setting; tests shorten it).
    public var shotgridCircuitCooldown: TimeInterval = 10
    /// How often each instance checks the key ring file for a rotation.
    public var keyReloadInterval: TimeInterval = 1
    public var logLevel = "info"
    /// Reverse-proxy routes (the `routes` setting), validated.
    public var routes: [ProxyRoute] = []

    public init() {}

    public enum StoreKind: Sendable, Equatable {
        case sqlite(path: String)
        case mongo(uri: String)
    }

    public func storeKind() throws(ConfigError) -> StoreKind {
        if store.hasPrefix("sqlite:") { return .sqlite(path: String(store.dropFirst("sqlite:".count))) }
        if store.hasPrefix("mongodb://") || store.hasPrefix("mongodb+srv://") { return .mongo(uri: store) }
        throw ConfigError(setting: "store", message: "must be sqlite:PATH or mongodb://HOST:PORT/DB")
    }
}

public struct ConfigError: Error, CustomStringConvertible {
    public var setting: String
    public var message: String

    public init(setting: String, message: String) {
        self.setting = setting
        self.message = message
    }

    public var description: String {
        "invalid setting \(setting) (--\(setting), \(GatewaySetting.environmentName(setting))): \(message)"
    }
}
