// ClientAddress: who the client is: the TCP peer, or, when the peer is a trusted proxy, the
// nearest X-Forwarded-For hop that is not one of ours.
import Foundation
public import HTTPTypes
public import Logging
import Synchronization

public final class ClientAddress: Sendable {
    let trustedProxies: [IPNetwork]
    let logger: Logger
    private let warnedUntrusted = Atomic<Bool>(false)

    public init(trustedProxies: [IPNetwork], logger: Logger) {
        self.trustedProxies = trustedProxies
        self.logger = logger
    }

    static let forwardedFor = HTTPField.Name("X-Forwarded-For")!

    func isTrusted(_ address: IPAddress) -> Bool { trustedProxies.contains { $0.contains(address) } }

    /// The client's address, normalised (an IPv4-mapped IPv6 peer reads as IPv4).
    public func resolve(peer: String, headers: HTTPFields) -> IPAddress? {
        let peerAddress = IPAddress(peer)
        let forwarded = headers[values: Self.forwardedFor]
        guard !forwarded.isEmpty else { return peerAddress }
        guard let peerAddress, isTrusted(peerAddress) else {
            // Said once per process: a proxy in front that is not in trusted-proxies makes every
            // client look like the proxy, and one guesser then bans everyone.
            if !warnedUntrusted.exchange(true, ordering: .relaxed) {
                logger.warning(
                    "X-Forwarded-For from a peer that is not in trusted-proxies; using the peer address",
                    metadata: ["authgate.peer": "\(peer)"])
            }
            return peerAddress
        }
        let hops = forwarded.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        var client = peerAddress
        for hop in hops.reversed() {
            guard let address = IPAddress(hop) else { break }
            client = address
            if !isTrusted(address) { break }
        }
        return client
    }
}
