// ProxyRouteTable: which route a request path belongs to: the longest prefix that matches on
// whole segments (`/api` matches `/api` and `/api/x`, never `/apix`); the gateway's own paths
// never match.
import Foundation

struct ProxyRouteTable: Sendable {
    /// Longest prefix first, so the first match is the most specific one.
    let routes: [ProxyRoute]

    init(_ routes: [ProxyRoute]) {
        self.routes = routes.sorted { $0.prefix.utf8.count > $1.prefix.utf8.count }
    }

    var isEmpty: Bool { routes.isEmpty }

    func route(for path: Substring) -> ProxyRoute? {
        guard !ProxyRoute.isReserved(path) else { return nil }
        return routes.first { $0.matches(path) }
    }
}

/// Request paths the proxy refuses to forward: dot segments, plain or percent-encoded, would let
/// a client climb out of the upstream's base path once the upstream normalises them.
enum ProxyPath {
    static func hasDotSegment(_ path: Substring) -> Bool {
        // Most paths have neither: decide on the bytes before splitting anything.
        guard path.utf8.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "%") }) else { return false }
        return path.split(separator: "/", omittingEmptySubsequences: false).contains { segment in
            let decoded = segment.replacingOccurrences(of: "%2e", with: ".", options: .caseInsensitive)
            return decoded == "." || decoded == ".."
        }
    }
}
