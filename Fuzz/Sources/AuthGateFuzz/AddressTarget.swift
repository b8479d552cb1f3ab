// AddressTarget: addresses and CIDR ranges as settings and headers carry them, and the client
// address a request resolves to through trusted proxies' X-Forwarded-For.
@testable import AuthGate
import Foundation
import HTTPTypes
import Logging

enum AddressTarget {
    static let trusted = ["10.0.0.0/8", "127.0.0.1", "fd00::/8", "192.168.0.0/16"].map { IPNetwork($0)! }
    static let clientAddress = ClientAddress(trustedProxies: trusted, logger: Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() }))

    static func run(_ input: FuzzInput) {
        var input = input
        switch input.choice(3) {
        case 0: address(input.restText())
        case 1: network(input.restText())
        default: forwarded(&input)
        }
    }

    static func address(_ text: String) {
        guard let address = IPAddress(text) else { return }
        // C strings end at NUL: "10.0.0.1\0junk" must not read as 10.0.0.1.
        expect(!text.utf8.contains(0), "an address with a NUL byte accepted")
        expect(address.bytes.count == 16, "address not 16 bytes")
        expect(IPAddress(address.description) == address, "address does not read back from its description")
        _ = address.regulationKey
        expect(IPNetwork(address.description)?.contains(address) == true, "an address is not in its own /full range")
    }

    static func network(_ text: String) {
        guard let network = IPNetwork(text) else { return }
        expect((0...128).contains(network.prefixLength), "prefix length out of range")
        expect(network.address.isIPv4 ? network.prefixLength >= 96 : true, "IPv4 range wider than IPv4")
        expect(network.contains(network.address), "a range does not contain its own address")
        expect(IPNetwork(network.description) == network, "range does not read back from its description")
    }

    static func forwarded(_ input: inout FuzzInput) {
        let peer = input.text(separator: UInt8(ascii: "\n"))
        var fields = HTTPFields()
        while !input.isEmpty, fields.count < 8 {
            fields.append(HTTPField(name: ClientAddress.forwardedFor, lenientValue: input.field(separator: UInt8(ascii: "\n"))))
        }
        let resolved = clientAddress.resolve(peer: peer, headers: fields)
        let peerAddress = IPAddress(peer)
        if peerAddress == nil || !clientAddress.isTrusted(peerAddress!) || fields.isEmpty {
            expect(resolved == peerAddress, "an untrusted peer's X-Forwarded-For was believed")
        } else {
            expect(resolved != nil, "a trusted peer resolved to no address")
            // The answer is the peer or one of the hops it forwarded.
            let hops = fields[values: ClientAddress.forwardedFor].flatMap { $0.split(separator: ",") }.compactMap { IPAddress($0.trimmingCharacters(in: .whitespaces)) }
            expect(resolved == peerAddress || hops.contains(resolved!), "resolved to an address nobody sent")
        }
    }
}
