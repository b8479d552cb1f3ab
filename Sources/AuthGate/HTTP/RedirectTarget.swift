// RedirectTarget: where the sign-in page sends the browser after signing in: the `rd` it was
// given when that is on the gateway's own origin or an allowed one, else `/`. Anything a browser
// could read differently from us (backslashes, whitespace, control or non-ASCII bytes, `//host`,
// `scheme:host`, credentials, percent-escapes in the host) is refused, not repaired.
import Hummingbird

enum RedirectTarget {
    static let fallback = "/"
    static let maxLength = 2048

    /// `rd` when it is safe to follow, else `/`.
    static func resolve(_ rd: String?, request: Request, origins: OriginPolicy) -> String {
        guard let rd, isSafe(rd, request: request, origins: origins) else { return fallback }
        return rd
    }

    static func isSafe(_ rd: String, request: Request, origins: OriginPolicy) -> Bool {
        let bytes = Array(rd.utf8)
        // Printable ASCII only, and no backslash: browsers read `\` as `/` in http(s) URLs.
        guard !bytes.isEmpty, bytes.count <= maxLength, bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7f && $0 != UInt8(ascii: "\\") }) else {
            return false
        }
        // A path on this origin: `/x`, but never `//host` (scheme-relative).
        if bytes[0] == UInt8(ascii: "/") { return bytes.count == 1 || bytes[1] != UInt8(ascii: "/") }
        // An absolute URL: exactly `http://` or `https://`; `https:host` and other schemes
        // (`javascript:`, `data:`) are refused.
        guard let scheme = OriginPolicy.webScheme(of: rd) else { return false }
        let rest = rd.dropFirst(scheme.count + 3)
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard let origin = OriginPolicy.origin(scheme: scheme, authority: authority) else { return false }
        return origins.isAllowed(origin, request: request)
    }
}
