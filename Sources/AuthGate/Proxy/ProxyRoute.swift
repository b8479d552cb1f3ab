// ProxyRoute: one reverse-proxy route of the `routes` setting, validated when the configuration
// is read, so a bad route stops `serve` and `config check` with a message naming it.
public import Foundation

public struct ProxyRoute: Sendable, Equatable {
    public enum Kind: String, Sendable { case http, shotgrid }

    /// What the upstream gets in `Authorization`.
    public enum AuthorizationMode: String, Sendable {
        /// Nothing: the upstream trusts the identity headers (and its network).
        case drop
        /// The client's own header, as sent.
        case forward
        /// A 60 s JWT minted for this upstream's audience.
        case `internal`
    }

    /// Matched on whole path segments; no trailing slash except for "/" itself.
    public var prefix: String
    public var kind: Kind
    /// Base URL of a `kind: http` upstream (scheme, host, optional port and path); nil for ShotGrid.
    public var upstream: URL?
    public var stripPrefix: Bool
    /// Seconds to wait for the upstream's response headers.
    public var timeout: TimeInterval
    public var authorization: AuthorizationMode
    /// `aud` of the internal JWT: the prefix as written unless set.
    public var audience: String
    /// Browser navigations without a valid token go to the sign-in page instead of the 401.
    public var signInRedirect: Bool = false

    public static let reservedPrefixes = ["/auth", "/healthz", "/readyz", "/metrics"]
    static let knownKeys: Set<String> = [
        "prefix", "kind", "upstream", "strip_prefix", "timeout", "authorization", "audience", "sign_in_redirect",
    ]

    /// Whether a request path is under this route's prefix, on whole segments.
    public func matches(_ path: Substring) -> Bool {
        if prefix == "/" { return true }
        guard path.hasPrefix(prefix) else { return false }
        let rest = path.dropFirst(prefix.count)
        return rest.isEmpty || rest.first == "/"
    }

    /// Whether a path belongs to the gateway itself and is never proxied, whatever the routes.
    public static func isReserved(_ path: Substring) -> Bool {
        // Every request passes here (the channel-level proxy asks first): no string is built.
        reservedPrefixes.contains { prefix in
            guard path.hasPrefix(prefix) else { return false }
            let rest = path.utf8.dropFirst(prefix.utf8.count)
            return rest.isEmpty || rest.first == UInt8(ascii: "/")
        }
    }
}

// MARK: Parsing

extension ProxyRoute {
    /// Routes from a decoded YAML or JSON list; `defaultTimeout` is `upstream-timeout`.
    static func parseList(_ value: Any, defaultTimeout: TimeInterval, shotgridURL: String?) throws(ConfigError) -> [ProxyRoute] {
        guard let list = value as? [Any] else { throw ConfigError(setting: "routes", message: "must be a list of routes") }
        var routes: [ProxyRoute] = []
        for (index, item) in list.enumerated() {
            let route = try parse(item, number: index + 1, defaultTimeout: defaultTimeout, shotgridURL: shotgridURL)
            if let earlier = routes.firstIndex(where: { $0.prefix == route.prefix }) {
                let written = ((item as? [String: Any])?["prefix"] as? String) ?? route.prefix
                throw ConfigError(setting: "routes", message: "route \(index + 1) (\(written)): duplicate prefix, already used by route \(earlier + 1)")
            }
            routes.append(route)
        }
        return routes
    }

    static func parse(_ item: Any, number: Int, defaultTimeout: TimeInterval, shotgridURL: String?) throws(ConfigError) -> ProxyRoute {
        guard let fields = item as? [String: Any] else { throw ConfigError(setting: "routes", message: "route \(number): must be a mapping of keys") }
        let written = fields["prefix"] as? String
        func fail(_ message: String) -> ConfigError {
            ConfigError(setting: "routes", message: "route \(number)\(written.map { " (\($0))" } ?? ""): \(message)")
        }
        if let unknown = fields.keys.sorted().first(where: { !knownKeys.contains($0) }) {
            throw fail("unknown key \"\(unknown)\" (known: \(knownKeys.sorted().joined(separator: ", ")))")
        }
        guard let written else { throw fail(fields["prefix"] == nil ? "prefix is required" : "prefix must be a string") }
        let prefix = try normalizedPrefix(written, fail)

        let kindText = try string(fields["kind"], "kind", fail) ?? "http"
        guard let kind = Kind(rawValue: kindText) else { throw fail("kind must be http or shotgrid") }

        var upstream: URL?
        let upstreamText = try string(fields["upstream"], "upstream", fail)
        switch kind {
        case .http:
            guard let upstreamText else { throw fail("upstream is required for kind http") }
            upstream = try upstreamURL(upstreamText, fail)
        case .shotgrid:
            guard upstreamText == nil else { throw fail("upstream is not used by kind shotgrid (it goes to shotgrid-url)") }
            // ShotGrid always gets {prefix}/REST as /api/v1/REST and the session's own token.
            for key in ["strip_prefix", "authorization", "audience"] where fields[key] != nil {
                throw fail("\(key) is not used by kind shotgrid")
            }
            guard let shotgridURL, !shotgridURL.isEmpty else { throw fail("kind shotgrid needs the shotgrid-url setting") }
        }

        var stripPrefix = true
        if let value = fields["strip_prefix"] {
            guard let flag = value as? Bool else { throw fail("strip_prefix must be true or false") }
            stripPrefix = flag
        }
        var timeout = defaultTimeout
        if let value = fields["timeout"] {
            guard let seconds = (value as? Double) ?? (value as? Int).map(Double.init), seconds.isFinite, seconds > 0 else {
                throw fail("timeout must be a positive number of seconds")
            }
            timeout = seconds
        }
        let authorizationText = try string(fields["authorization"], "authorization", fail) ?? "drop"
        guard let authorization = AuthorizationMode(rawValue: authorizationText) else {
            throw fail("authorization must be drop, forward or internal")
        }
        let audience = try string(fields["audience"], "audience", fail) ?? written
        guard !audience.isEmpty else { throw fail("audience must not be empty") }
        var signInRedirect = false
        if let value = fields["sign_in_redirect"] {
            guard let flag = value as? Bool else { throw fail("sign_in_redirect must be true or false") }
            signInRedirect = flag
        }
        return ProxyRoute(
            prefix: prefix, kind: kind, upstream: upstream, stripPrefix: stripPrefix, timeout: timeout, authorization: authorization,
            audience: audience, signInRedirect: signInRedirect)
    }

    private static func string(_ value: Any?, _ key: String, _ fail: (String) -> ConfigError) throws(ConfigError) -> String? {
        guard let value else { return nil }
        guard let text = value as? String else { throw fail("\(key) must be a string") }
        return text
    }

    private static func normalizedPrefix(_ written: String, _ fail: (String) -> ConfigError) throws(ConfigError) -> String {
        guard written.hasPrefix("/") else { throw fail("prefix must start with /") }
        guard written.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }), !written.contains("?"), !written.contains("#"), !written.contains("%") else {
            throw fail("prefix must be a plain path (printable ASCII, no query, fragment or percent-escapes)")
        }
        var prefix = written
        while prefix.count > 1 && prefix.hasSuffix("/") { prefix.removeLast() }
        let segments = prefix.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard prefix == "/" || !segments.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
            throw fail("prefix must not contain empty, . or .. segments")
        }
        if isReserved(Substring(prefix)) {
            throw fail("prefix \(prefix) is reserved for the gateway (\(reservedPrefixes.joined(separator: ", ")) and under them)")
        }
        return prefix
    }

    private static func upstreamURL(_ text: String, _ fail: (String) -> ConfigError) throws(ConfigError) -> URL {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty
        else { throw fail("upstream must be an http:// or https:// URL with a host") }
        guard url.user == nil, url.password == nil else { throw fail("upstream must not carry credentials") }
        guard url.query == nil, url.fragment == nil else { throw fail("upstream must not have a query or fragment") }
        return url
    }
}
