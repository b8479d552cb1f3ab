// OriginPolicy: which browser origins may call with credentials: the gateway's own (the origin
// the request was addressed to) and the `allowed-origins` list, by exact match.
import Hummingbird

public struct OriginPolicy: Sendable {
    let allowed: Set<String>

    public init(allowedOrigins: [String]) { allowed = Set(allowedOrigins) }

    /// The gateway's own origin, as the client addressed it.
    func isOwn(_ origin: String, request: Request) -> Bool {
        guard let host = request.head.authority else { return false }
        return origin == "http://\(host)" || origin == "https://\(host)"
    }

    func isListed(_ origin: String) -> Bool { allowed.contains(origin) }

    func isAllowed(_ origin: String, request: Request) -> Bool { isOwn(origin, request: request) || isListed(origin) }
}
