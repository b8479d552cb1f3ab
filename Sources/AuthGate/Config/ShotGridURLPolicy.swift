// ShotGridURLPolicy: whether a ShotGrid site URL is safe to send passwords and tokens to:
// https, or plain http only to this machine (a local fake or an SSH tunnel); anything else
// needs the operator to say so (shotgrid-allow-insecure).
import Foundation

enum ShotGridURLPolicy: Equatable {
    case secure
    /// http:// to loopback: allowed, with a warning at start-up.
    case insecureLoopback
    /// http:// elsewhere: refused unless shotgrid-allow-insecure is set.
    case insecureRemote
    case invalid

    static func check(_ text: String) -> ShotGridURLPolicy {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased(), !host.isEmpty else {
            return .invalid
        }
        switch scheme {
        case "https": return .secure
        case "http":
            let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            if bare == "localhost" { return .insecureLoopback }
            guard let address = IPAddress(bare) else { return .insecureRemote }
            let loopback = [IPNetwork("127.0.0.0/8")!, IPNetwork("::1/128")!]
            return loopback.contains { $0.contains(address) } ? .insecureLoopback : .insecureRemote
        default: return .invalid
        }
    }
}

extension GatewayConfig {
    /// What start-up should warn about in these settings (never refused ones: those throw).
    public var warnings: [String] {
        var warnings: [String] = []
        if let url = shotgridURL, !url.isEmpty, ShotGridURLPolicy.check(url) != .secure {
            warnings.append("shotgrid-url is plain http://: passwords and tokens travel unencrypted")
        }
        return warnings
    }
}
