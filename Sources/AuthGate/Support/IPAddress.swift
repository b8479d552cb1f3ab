// IPAddress: client and proxy addresses as 16 bytes (IPv4 as IPv4-mapped IPv6), with CIDR ranges,
// so that "10.0.0.0/8", "::ffff:10.1.2.3" and "10.1.2.3" compare as the network means them.
import Foundation

public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// Network byte order; IPv4 is ::ffff:a.b.c.d.
    public let bytes: [UInt8]

    public var isIPv4: Bool { bytes.prefix(10).allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff }

    public init?(_ text: some StringProtocol) {
        // inet_pton reads a C string: "10.0.0.1\0junk" would read as 10.0.0.1.
        guard !text.utf8.contains(0) else { return nil }
        var text = String(text)
        if text.hasPrefix("["), text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        if let percent = text.firstIndex(of: "%") { text = String(text[..<percent]) }  // IPv6 zone id
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            bytes = [UInt8](repeating: 0, count: 10) + [0xff, 0xff] + withUnsafeBytes(of: v4.s_addr) { Array($0) }
            return
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        bytes = withUnsafeBytes(of: v6) { Array($0) }
    }

    /// Dotted quad for IPv4 (mapped or not), RFC 5952 text for IPv6.
    public var description: String {
        if isIPv4 { return bytes[12...].map(String.init).joined(separator: ".") }
        var address = in6_addr()
        withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: bytes) }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &address, &text, socklen_t(text.count)) != nil else { return "?" }
        return String(decoding: text.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The key login regulation counts a client under: the address for IPv4, its /64 for IPv6
    /// (one subscriber usually holds a whole /64, so counting single addresses is no limit).
    public var regulationKey: String {
        if isIPv4 { return description }
        return IPNetwork(address: self, prefixLength: 64).description
    }
}

/// An address range: `10.0.0.0/8`, `fd00::/8`, or one address (a full-length prefix).
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    public let address: IPAddress
    /// Over the 128-bit form (an IPv4 /8 is 104 here).
    public let prefixLength: Int

    init(address: IPAddress, prefixLength: Int) {
        self.prefixLength = prefixLength
        var masked = address.bytes
        for index in 0..<16 {
            let bits = max(0, min(8, prefixLength - index * 8))
            masked[index] &= bits == 8 ? 0xff : UInt8(truncatingIfNeeded: 0xff << (8 - bits))
        }
        self.address = IPAddress(unchecked: masked)
    }

    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard let first = parts.first, let address = IPAddress(first) else { return nil }
        let width = address.isIPv4 ? 32 : 128
        var length = width
        if parts.count == 2 {
            guard let parsed = Int(parts[1]), (0...width).contains(parsed) else { return nil }
            length = parsed
        }
        self.init(address: address, prefixLength: length + (128 - width))
    }

    public func contains(_ candidate: IPAddress) -> Bool {
        IPNetwork(address: candidate, prefixLength: prefixLength).address == address
    }

    public var description: String {
        address.isIPv4 ? "\(address)/\(prefixLength - 96)" : "\(address)/\(prefixLength)"
    }
}

extension IPAddress {
    fileprivate init(unchecked bytes: [UInt8]) { self.bytes = bytes }
}
