// GatewaySetting: the one table of settings: each has one name, used as the YAML key, the flag
// (--name) and the environment variable (AUTHGATE_NAME).
import Configuration
public import Foundation

public struct GatewaySetting: Sendable {
    public enum Kind: Sendable { case string, integer, seconds, list, secret }

    public let name: String
    public let kind: Kind
    public let help: String
    let apply: @Sendable (inout GatewayConfig, String) throws(ConfigError) -> Void

    /// Not in `all`: its value is a list of routes, not text (RouteSettings reads it).
    public static let routes = "routes"

    public static func environmentName(_ name: String) -> String {
        "AUTHGATE_" + name.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    public static let all: [GatewaySetting] = [
        .init(name: "listen", kind: .string, help: "address to listen on, HOST:PORT (127.0.0.1:8080)") { c, v throws(ConfigError) in
            guard let colon = v.lastIndex(of: ":"), let port = Int(v[v.index(after: colon)...]), (0...65535).contains(port) else {
                throw ConfigError(setting: "listen", message: "expected HOST:PORT")
            }
            c.listenHost = String(v[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            c.listenPort = port
        },
        .init(name: "store", kind: .string, help: "session store: sqlite:PATH or mongodb://HOST:PORT/DB (sqlite:./authgate.db)") { c, v in c.store = v },
        .init(name: "provider", kind: .string, help: "identity provider: local or shotgrid (local)") { c, v throws(ConfigError) in
            guard v == "local" || v == "shotgrid" else { throw ConfigError(setting: "provider", message: "must be local or shotgrid") }
            c.provider = v
        },
        .init(name: "shotgrid-url", kind: .string, help: "ShotGrid site URL, e.g. https://example.shotgrid.autodesk.com") { c, v in c.shotgridURL = v },
        .init(name: "shotgrid-allow-insecure", kind: .string, help: "accept an http:// shotgrid-url on a non-loopback host: true or false (false)") { c, v throws(ConfigError) in
            guard let flag = Bool(v) else { throw ConfigError(setting: "shotgrid-allow-insecure", message: "must be true or false") }
            c.shotgridAllowInsecure = flag
        },
        .init(name: "keys", kind: .string, help: "key ring file, created 0600 if absent (./authgate-keys.json)") { c, v in c.keysPath = v },
        .init(name: "issuer", kind: .string, help: "JWT iss (authgate)") { c, v in c.issuer = v },
        .init(name: "audience", kind: .string, help: "JWT aud (authgate)") { c, v in c.audience = v },
        .init(name: "access-ttl", kind: .seconds, help: "access token lifetime, seconds (900)") { c, v throws(ConfigError) in c.accessTTL = try seconds(v, "access-ttl") },
        .init(name: "session-idle-ttl", kind: .seconds, help: "session idle lifetime, seconds (28800)") { c, v throws(ConfigError) in c.sessionIdleTTL = try seconds(v, "session-idle-ttl") },
        .init(name: "session-max-ttl", kind: .seconds, help: "session absolute lifetime, seconds (86400)") { c, v throws(ConfigError) in c.sessionMaxTTL = try seconds(v, "session-max-ttl") },
        .init(name: "pool-size", kind: .integer, help: "upstream connection pool size (1024)") { c, v throws(ConfigError) in c.poolSize = try integer(v, "pool-size", min: 1) },
        .init(name: "pool-idle", kind: .seconds, help: "upstream connection idle limit, seconds (900)") { c, v throws(ConfigError) in c.poolIdle = try seconds(v, "pool-idle") },
        .init(name: "session-cache-size", kind: .integer, help: "sessions kept in memory for /auth/me (100000)") { c, v throws(ConfigError) in c.sessionCacheSize = try integer(v, "session-cache-size", min: 1) },
        .init(name: "upstream-timeout", kind: .seconds, help: "upstream request timeout, seconds (10)") { c, v throws(ConfigError) in c.upstreamTimeout = try seconds(v, "upstream-timeout") },
        .init(name: "store-timeout", kind: .seconds, help: "store operation timeout, seconds (5)") { c, v throws(ConfigError) in c.storeTimeout = try seconds(v, "store-timeout") },
        .init(name: "store-fail-static", kind: .seconds, help: "verify on the last revocation view while the store is down, seconds (30)") { c, v throws(ConfigError) in c.storeFailStatic = try seconds(v, "store-fail-static") },
        .init(name: "login-max-failures", kind: .integer, help: "failed logins before a ban (5)") { c, v throws(ConfigError) in c.loginMaxFailures = try integer(v, "login-max-failures", min: 1) },
        .init(name: "login-window", kind: .seconds, help: "window counting failed logins, seconds (300)") { c, v throws(ConfigError) in c.loginWindow = try seconds(v, "login-window") },
        .init(name: "login-ban", kind: .seconds, help: "ban after too many failures, seconds (300)") { c, v throws(ConfigError) in c.loginBan = try seconds(v, "login-ban") },
        .init(name: "jwt-secret", kind: .secret, help: "one-key deployments: JWT secret, at least 32 bytes (overrides the key ring)") { c, v in c.jwtSecret = Secret(v) },
        .init(name: "seal-key", kind: .secret, help: "one-key deployments: base64 of 32 bytes (overrides the key ring)") { c, v in c.sealKey = Secret(v) },
        .init(name: "allowed-origins", kind: .list, help: "comma-separated origins (scheme://host[:port]) allowed to call with credentials besides the gateway's own") { c, v throws(ConfigError) in
            // Browsers send Origin serialised one way; an entry that is no origin would never match.
            var origins: [String] = []
            for entry in v.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !entry.isEmpty {
                guard let origin = OriginPolicy.normalized(entry) else {
                    throw ConfigError(setting: "allowed-origins", message: "\(entry) is not an origin: expected http(s)://host[:port], no path, no *")
                }
                origins.append(origin)
            }
            c.allowedOrigins = origins
        },
        .init(name: "trusted-proxies", kind: .list, help: "comma-separated addresses or CIDR ranges of proxies whose X-Forwarded-For is believed") { c, v throws(ConfigError) in
            var networks: [IPNetwork] = []
            for entry in v.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !entry.isEmpty {
                guard let network = IPNetwork(entry) else { throw ConfigError(setting: "trusted-proxies", message: "\(entry) is not an address or CIDR range") }
                networks.append(network)
            }
            c.trustedProxies = networks
        },
        .init(name: "idle-timeout", kind: .seconds, help: "close a client connection idle or sending headers this long, seconds (60)") { c, v throws(ConfigError) in c.idleTimeout = try seconds(v, "idle-timeout") },
        .init(name: "log-format", kind: .string, help: "log format: text or json (text)") { c, v throws(ConfigError) in
            guard v == "text" || v == "json" else { throw ConfigError(setting: "log-format", message: "must be text or json") }
            c.logFormat = v
        },
        .init(name: "log-level", kind: .string, help: "trace, debug, info, notice, warning, error, critical (info)") { c, v in c.logLevel = v },
    ]

    static func seconds(_ value: String, _ name: String) throws(ConfigError) -> TimeInterval {
        guard let number = Double(value), number.isFinite, number > 0 else {
            throw ConfigError(setting: name, message: "expected a positive number of seconds")
        }
        return number
    }

    static func integer(_ value: String, _ name: String, min: Int) throws(ConfigError) -> Int {
        guard let number = Int(value), number >= min else { throw ConfigError(setting: name, message: "expected an integer ≥ \(min)") }
        return number
    }
}

extension GatewayConfig {
    /// Resolves every setting through one reader: flags, then AUTHGATE_* variables, then the YAML
    /// file, then the defaults above.
    public static func load(flags: [String: String], environment: [String: String] = ProcessInfo.processInfo.environment, file: String?) async throws -> GatewayConfig {
        var providers: [any ConfigProvider] = []
        var flagValues: [AbsoluteConfigKey: ConfigValue] = [:]
        for (name, value) in flags {
            let secret = GatewaySetting.all.first { $0.name == name }?.kind == .secret
            flagValues[AbsoluteConfigKey([name])] = ConfigValue(.string(value), isSecret: secret)
        }
        providers.append(InMemoryProvider(name: "flags", values: flagValues))
        let secretNames = Set(GatewaySetting.all.filter { $0.kind == .secret }.map { GatewaySetting.environmentName($0.name) })
        providers.append(
            EnvironmentVariablesProvider(environmentVariables: environment, secretsSpecifier: .specific(secretNames))
                .prefixKeys(with: "authgate"))
        let configFile = file ?? flags["config"] ?? environment["AUTHGATE_CONFIG"]
        let fileSettings = try configFile.map { path throws(ConfigError) in try ConfigFile.load(path) } ?? [:]
        if configFile != nil {
            providers.append(InMemoryProvider(name: "file", values: try ConfigFile.values(fileSettings)))
        }
        var config = try resolve(ConfigReader(providers: providers))
        let routesText = flags[GatewaySetting.routes] ?? environment[GatewaySetting.environmentName(GatewaySetting.routes)]
        config.routes = try RouteSettings.load(
            text: routesText, source: flags[GatewaySetting.routes] != nil ? "--routes" : "AUTHGATE_ROUTES",
            fileValue: fileSettings[GatewaySetting.routes], defaultTimeout: config.upstreamTimeout, shotgridURL: config.shotgridURL)
        // An internal token for this audience would be an access token of the gateway itself.
        if let clash = config.routes.firstIndex(where: { $0.authorization == .internal && $0.audience == config.audience }) {
            throw ConfigError(
                setting: "routes",
                message: "route \(clash + 1) (\(config.routes[clash].prefix)): audience \(config.audience) is the gateway's own; its internal tokens would be access tokens")
        }
        return config
    }

    static func resolve(_ reader: ConfigReader) throws -> GatewayConfig {
        var config = GatewayConfig()
        for setting in GatewaySetting.all {
            let key = ConfigKey([setting.name])
            // Every layer holds text (ConfigFile turns YAML values into text); the table parses it.
            if let text = reader.string(forKey: key, isSecret: setting.kind == .secret) { try setting.apply(&config, text) }
        }
        if config.provider == "shotgrid" && (config.shotgridURL ?? "").isEmpty {
            throw ConfigError(setting: "shotgrid-url", message: "required when provider is shotgrid")
        }
        if let url = config.shotgridURL, !url.isEmpty {
            switch ShotGridURLPolicy.check(url) {
            case .secure, .insecureLoopback: break
            case .invalid: throw ConfigError(setting: "shotgrid-url", message: "must be an https:// URL with a host")
            case .insecureRemote where !config.shotgridAllowInsecure:
                throw ConfigError(
                    setting: "shotgrid-url",
                    message: "http:// would send passwords and tokens in the clear; use https://, or set shotgrid-allow-insecure: true")
            case .insecureRemote: break
            }
        }
        _ = try config.storeKind()
        return config
    }
}
