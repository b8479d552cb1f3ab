// KeyRing: the JWT signing keys and sealing keys, each with an id; the newest signs and seals,
// older ones still verify and open until they are retired (kept in the file, used no more).

public import Foundation

public struct KeyRingKey: Sendable {
    public let id: String
    public let material: Secret<[UInt8]>
    public var createdAt: Date?
    /// Retired keys neither verify nor open; they stay in the file as a record.
    public var retiredAt: Date?

    public init(id: String, material: [UInt8], createdAt: Date? = nil, retiredAt: Date? = nil) {
        self.id = id
        self.material = Secret(material)
        self.createdAt = createdAt
        self.retiredAt = retiredAt
    }
}

public struct KeyRing: Sendable {
    public static let minimumSigningKeyBytes = 32
    public static let sealingKeyBytes = 32

    public let signingKeys: [KeyRingKey]
    public let sealingKeys: [KeyRingKey]
    public let activeSigningKeyID: String
    public let activeSealingKeyID: String
    /// Each signing key ready to sign and verify: its prepared MAC and the exact header segment
    /// our tokens carry for it (verify recognises that segment without parsing it).
    let signers: [Signer]

    struct Signer: Sendable {
        let key: KeyRingKey
        let mac: HMACSHA256Key
        let headerSegment: String
        let headerSegmentBytes: [UInt8]
    }

    public init(signingKeys: [KeyRingKey], activeSigningKeyID: String, sealingKeys: [KeyRingKey], activeSealingKeyID: String) throws(KeyRingError) {
        guard signingKeys.contains(where: { $0.id == activeSigningKeyID && $0.retiredAt == nil }) else {
            throw .invalid("active signing key \(activeSigningKeyID) is not in the ring, or retired")
        }
        guard sealingKeys.contains(where: { $0.id == activeSealingKeyID && $0.retiredAt == nil }) else {
            throw .invalid("active sealing key \(activeSealingKeyID) is not in the ring, or retired")
        }
        for key in signingKeys where key.material.value.count < Self.minimumSigningKeyBytes {
            throw .invalid("signing key \(key.id) is shorter than \(Self.minimumSigningKeyBytes) bytes")
        }
        for key in sealingKeys where key.material.value.count != Self.sealingKeyBytes {
            throw .invalid("sealing key \(key.id) is not \(Self.sealingKeyBytes) bytes")
        }
        var signers: [Signer] = []
        for key in signingKeys where key.retiredAt == nil {
            let mac: HMACSHA256Key
            do { mac = try HMACSHA256Key(key.material.value) } catch { throw .invalid("cannot prepare signing key \(key.id)") }
            let header = (try? WireJSONEncoder().encode(JWTCodec.Header(alg: "HS256", typ: "JWT", kid: key.id))) ?? []
            let segment = Base64URL.encode(header)
            signers.append(Signer(key: key, mac: mac, headerSegment: segment, headerSegmentBytes: Array(segment.utf8)))
        }
        self.signers = signers
        self.signingKeys = signingKeys
        self.sealingKeys = sealingKeys
        self.activeSigningKeyID = activeSigningKeyID
        self.activeSealingKeyID = activeSealingKeyID
    }

    public var activeSigningKey: KeyRingKey { signingKeys.first { $0.id == activeSigningKeyID }! }
    var activeSigner: Signer { signers.first { $0.key.id == activeSigningKeyID }! }
    public var activeSealingKey: KeyRingKey { sealingKeys.first { $0.id == activeSealingKeyID }! }
    public func signingKey(id: String) -> KeyRingKey? { signingKeys.first { $0.id == id && $0.retiredAt == nil } }
    public func sealingKey(id: String) -> KeyRingKey? { sealingKeys.first { $0.id == id && $0.retiredAt == nil } }

    /// A fresh ring with one new key of each kind.
    public static func generate() -> KeyRing {
        let signing = KeyRingKey(id: newKeyID(), material: Sodium.randomBytes(32), createdAt: Date())
        let sealing = KeyRingKey(id: newKeyID(), material: Sodium.randomBytes(sealingKeyBytes), createdAt: Date())
        // Cannot throw: fresh keys of the right sizes, each active one in its list.
        return try! KeyRing(signingKeys: [signing], activeSigningKeyID: signing.id, sealingKeys: [sealing], activeSealingKeyID: sealing.id)
    }

    /// The same ring with a new active key of each kind; the old keys stay for verifying and opening.
    public func rotated() -> KeyRing {
        let signing = KeyRingKey(id: Self.newKeyID(), material: Sodium.randomBytes(32), createdAt: Date())
        let sealing = KeyRingKey(id: Self.newKeyID(), material: Sodium.randomBytes(Self.sealingKeyBytes), createdAt: Date())
        // Cannot throw: a valid ring plus fresh keys with new ids.
        return try! KeyRing(
            signingKeys: [signing] + signingKeys, activeSigningKeyID: signing.id,
            sealingKeys: [sealing] + sealingKeys, activeSealingKeyID: sealing.id)
    }

    /// The same ring with one key retired; the active keys cannot be (rotate first).
    public func retiring(_ id: String, at date: Date = Date()) throws(KeyRingError) -> KeyRing {
        guard id != activeSigningKeyID, id != activeSealingKeyID else { throw .invalid("key \(id) is active; rotate first") }
        guard signingKeys.contains(where: { $0.id == id }) || sealingKeys.contains(where: { $0.id == id }) else { throw .notFound(id) }
        func retire(_ keys: [KeyRingKey]) -> [KeyRingKey] {
            keys.map { key in
                var key = key
                if key.id == id && key.retiredAt == nil { key.retiredAt = date }
                return key
            }
        }
        return try KeyRing(
            signingKeys: retire(signingKeys), activeSigningKeyID: activeSigningKeyID, sealingKeys: retire(sealingKeys),
            activeSealingKeyID: activeSealingKeyID)
    }

    static func newKeyID() -> String {
        Sodium.hex(Sodium.randomBytes(6))
    }
}

public enum KeyRingError: Error, CustomStringConvertible {
    case invalid(String)
    case io(String)
    case notFound(String)

    public var description: String {
        switch self {
        case .invalid(let message): "key ring: \(message)"
        case .io(let message): "key ring: \(message)"
        case .notFound(let id): "key ring: no key \(id)"
        }
    }
}
