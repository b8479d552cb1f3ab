// ConfigReport: what `authgate config check` prints: every setting's effective value (secrets
// and store credentials redacted) and the routes, so an operator sees what a server would run.
import Foundation

public enum ConfigReport {
    /// `name = value` for every setting of GatewaySetting.all, in its order.
    public static func settings(_ c: GatewayConfig) -> [(name: String, value: String)] {
        func seconds(_ value: TimeInterval) -> String { value == value.rounded() ? String(Int(value)) : String(value) }
        let values: [String: String] = [
            "listen": c.listenHost.contains(":") ? "[\(c.listenHost)]:\(c.listenPort)" : "\(c.listenHost):\(c.listenPort)",
            "store": redactedStore(c.store), "provider": c.provider, "shotgrid-url": c.shotgridURL ?? "",
            "shotgrid-allow-insecure": String(c.shotgridAllowInsecure),
            "keys": c.keysPath, "issuer": c.issuer, "audience": c.audience, "access-ttl": seconds(c.accessTTL),
            "session-idle-ttl": seconds(c.sessionIdleTTL), "session-max-ttl": seconds(c.sessionMaxTTL),
            "pool-size": String(c.poolSize), "pool-idle": seconds(c.poolIdle), "session-cache-size": String(c.sessionCacheSize), "upstream-timeout": seconds(c.upstreamTimeout),
            "store-timeout": seconds(c.storeTimeout), "store-fail-static": seconds(c.storeFailStatic),
            "login-max-failures": String(c.loginMaxFailures), "login-window": seconds(c.loginWindow), "login-ban": seconds(c.loginBan),
            "jwt-secret": c.jwtSecret == nil ? "" : "***", "seal-key": c.sealKey == nil ? "" : "***",
            "allowed-origins": c.allowedOrigins.joined(separator: ","),
            "trusted-proxies": c.trustedProxies.map(\.description).joined(separator: ","),
            "idle-timeout": seconds(c.idleTimeout), "log-format": c.logFormat, "log-level": c.logLevel,
        ]
        return GatewaySetting.all.map { ($0.name, values[$0.name] ?? "?") }
    }

    /// One line per route: prefix, where it goes, and its options.
    public static func routes(_ c: GatewayConfig) -> [String] {
        c.routes.map { route in
            let target = route.kind == .shotgrid ? "shotgrid (\(c.shotgridURL ?? ""))" : route.upstream?.absoluteString ?? ""
            return "\(route.prefix) -> \(target) strip_prefix=\(route.stripPrefix) timeout=\(route.timeout) "
                + "authorization=\(route.authorization.rawValue) audience=\(route.audience)"
                + (route.signInRedirect ? " sign_in_redirect=true" : "")
        }
    }

    /// A store setting for display: any password in a MongoDB URI replaced.
    public static func redactedStore(_ store: String) -> String {
        guard let scheme = store.range(of: "://"), let at = store.range(of: "@", range: scheme.upperBound..<store.endIndex) else { return store }
        return String(store[..<scheme.upperBound]) + "***@" + String(store[at.upperBound...])
    }
}
