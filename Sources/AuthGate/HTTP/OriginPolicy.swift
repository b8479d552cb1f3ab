// OriginPolicy: which browser origins may call with credentials: the gateway's own (the origin
// the request was addressed to) and the `allowed-origins` list, by exact match.
import Hummingbird

public struct OriginPolicy: Sendable {
    let allowed: Set<String>
    /// The list in the order configured, for the sign-in page's `form-action`.
    let listed: [String]

    public init(allowedOrigins: [String]) {
        // Entries are normalised when the setting is read; normalising again keeps direct callers
        // (tests) honest, and an entry that is no origin can never match a browser's Origin.
        listed = allowedOrigins.compactMap(Self.normalized)
        allowed = Set(listed)
    }

    /// The gateway's own origin, as the client addressed it.
    func isOwn(_ origin: String, request: Request) -> Bool {
        guard let host = request.head.authority?.lowercased() else { return false }
        return origin == "http://\(host)" || origin == "https://\(host)"
    }

    func isListed(_ origin: String) -> Bool { allowed.contains(origin) }

    func isAllowed(_ origin: String, request: Request) -> Bool { isOwn(origin, request: request) || isListed(origin) }

    /// `http` or `https` when `text` starts with exactly that and `://` (any letter case); nil
    /// for every other scheme, and for `https:host` without the slashes.
    static func webScheme(of text: String) -> String? {
        let lowered = text.prefix(8).lowercased()
        if lowered.hasPrefix("https://") { return "https" }
        if lowered.hasPrefix("http://") { return "http" }
        return nil
    }

    /// An origin as browsers serialise it in `Origin`: `http` or `https`, a lower-case host, the
    /// port only when it is not the scheme's default, no path. Nil for anything else (`*`,
    /// `null`, a path, credentials, a query), so such a setting is refused, not silently useless.
    public static func normalized(_ text: String) -> String? {
        let lowered = text.lowercased()
        guard let scheme = webScheme(of: lowered) else { return nil }
        var authority = lowered.dropFirst(scheme.count + 3)
        if authority.hasSuffix("/") { authority = authority.dropLast() }
        return origin(scheme: scheme, authority: authority)
    }

    /// `scheme://host[:port]` from an authority already split off a URL: printable ASCII only, no
    /// credentials, percent-escapes, path or query; the default port dropped.
    static func origin(scheme: String, authority: Substring) -> String? {
        let forbidden: Set<UInt8> = Set("@%/\\?#,; *".utf8)
        guard !authority.isEmpty, authority.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f && !forbidden.contains($0) }) else { return nil }
        var host = authority.lowercased()[...]
        var port: Substring?
        if host.hasPrefix("[") {
            // An IPv6 literal: [addr] or [addr]:port.
            guard let close = host.firstIndex(of: "]") else { return nil }
            let after = host[host.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return nil }
                port = after.dropFirst()
            }
            host = host[...close]
        } else if let colon = host.firstIndex(of: ":") {
            port = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        guard !host.isEmpty, host != "[]" else { return nil }
        if let port {
            guard let number = Int(port), (1...65535).contains(number), port.allSatisfy(\.isASCII) else { return nil }
            let isDefault = (scheme == "http" && number == 80) || (scheme == "https" && number == 443)
            return isDefault ? "\(scheme)://\(host)" : "\(scheme)://\(host):\(number)"
        }
        return "\(scheme)://\(host)"
    }
}
