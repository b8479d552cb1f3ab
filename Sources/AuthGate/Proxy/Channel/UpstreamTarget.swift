// UpstreamTarget: where the channel-level proxy sends a `kind: http` route's requests: host and
// port to connect to, the Host header, and the base path, worked out once from the route's URL.
import Foundation

struct UpstreamTarget: Hashable, Sendable {
    /// For connecting: a name or an address (IPv6 without brackets).
    let host: String
    let port: Int
    /// The Host header: the URL's host, bracketed for IPv6, and its port unless it is 80.
    let authority: String
    /// The URL's path as written (percent-escapes kept), without trailing slashes; "" for none.
    let basePath: String

    /// nil for an https upstream: TLS stays with AsyncHTTPClient (HTTPForwarder).
    init?(_ url: URL) {
        guard url.scheme?.lowercased() == "http", let components = URLComponents(url: url, resolvingAgainstBaseURL: false),
            var host = components.host, !host.isEmpty
        else { return nil }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.host = host
        port = components.port ?? 80
        let named = host.contains(":") ? "[\(host)]" : host
        authority = port == 80 ? named : "\(named):\(port)"
        var path = components.percentEncodedPath
        while path.hasSuffix("/") { path.removeLast() }
        basePath = path
    }

    /// The request target the upstream gets: the base path, then the rest of the request path
    /// (or all of it, without `strip_prefix`), then the query as received; the same as
    /// `ProxyRoute.upstreamURL` gives AsyncHTTPClient.
    func requestTarget(tail: Substring, query: Substring?) -> String {
        var target = basePath
        if tail.isEmpty {
            if target.isEmpty { target = "/" }
        } else {
            target += tail
        }
        if let query { target += "?" + query }
        return target
    }
}
