// KeyRingFile: the key ring on disk (JSON, mode 0600), created on first start if absent,
// and the one-key environment overrides AUTHGATE_JWT_SECRET / AUTHGATE_SEAL_KEY.
import Foundation

public enum KeyRingFile {
    struct Stored: Codable {
        struct Key: Codable {
            var id: String
            var key: String  // standard base64
            var createdAt: Date?
            var retiredAt: Date?

            enum CodingKeys: String, CodingKey { case id, key, createdAt = "created_at", retiredAt = "retired_at" }
        }
        var version = 1
        var signingKeys: [Key]
        var sealingKeys: [Key]
        var activeSigningKey: String
        var activeSealingKey: String

        enum CodingKeys: String, CodingKey {
            case version, signingKeys = "signing_keys", sealingKeys = "sealing_keys"
            case activeSigningKey = "active_signing_key", activeSealingKey = "active_sealing_key"
        }
    }

    public static func load(path: String) throws(KeyRingError) -> KeyRing {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch { throw .io("cannot read \(path)") }
        if let mode = try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int, mode & 0o077 != 0 {
            throw .invalid("\(path) is readable by group or others (mode \(String(mode, radix: 8))); chmod 600 it")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        guard let stored = try? decoder.decode(Stored.self, from: data) else { throw .invalid("\(path) is not a valid key ring file") }
        func keys(_ list: [Stored.Key]) throws(KeyRingError) -> [KeyRingKey] {
            var result: [KeyRingKey] = []
            for entry in list {
                guard let bytes = Data(base64Encoded: entry.key) else { throw .invalid("key \(entry.id) is not base64") }
                result.append(KeyRingKey(id: entry.id, material: [UInt8](bytes), createdAt: entry.createdAt, retiredAt: entry.retiredAt))
            }
            return result
        }
        return try KeyRing(
            signingKeys: keys(stored.signingKeys), activeSigningKeyID: stored.activeSigningKey,
            sealingKeys: keys(stored.sealingKeys), activeSealingKeyID: stored.activeSealingKey)
    }

    /// Writes the ring atomically with mode 0600 from the first byte (umask cannot widen it).
    public static func write(_ ring: KeyRing, path: String) throws(KeyRingError) {
        func stored(_ keys: [KeyRingKey]) -> [Stored.Key] {
            keys.map { .init(id: $0.id, key: Data($0.material.value).base64EncodedString(), createdAt: $0.createdAt, retiredAt: $0.retiredAt) }
        }
        let stored = Stored(
            signingKeys: stored(ring.signingKeys),
            sealingKeys: stored(ring.sealingKeys),
            activeSigningKey: ring.activeSigningKeyID, activeSealingKey: ring.activeSealingKeyID)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        guard let data = try? encoder.encode(stored) else { throw .io("cannot encode key ring") }
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw .io("cannot create \(temporary): \(String(cString: strerror(errno)))") }
        let written = data.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        fsync(fd)
        close(fd)
        guard written == data.count, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw .io("cannot write \(path)")
        }
    }

    /// The ring for `serve`: the file, created if absent, with the environment overrides on top.
    public static func loadOrCreate(path: String, jwtSecret: Secret<String>?, sealKey: Secret<String>?) throws(KeyRingError) -> (ring: KeyRing, created: Bool) {
        var created = false
        let fileRing: KeyRing?
        if FileManager.default.fileExists(atPath: path) {
            fileRing = try load(path: path)
        } else if jwtSecret != nil && sealKey != nil {
            fileRing = nil  // both overridden: no file is needed
        } else {
            let ring = KeyRing.generate()
            try write(ring, path: path)
            created = true
            fileRing = ring
        }
        return (try applyOverrides(to: fileRing, jwtSecret: jwtSecret, sealKey: sealKey), created)
    }

    /// Environment keys replace the file's active keys; their ids derive from the key so that
    /// every instance given the same secret names it the same.
    static func applyOverrides(to ring: KeyRing?, jwtSecret: Secret<String>?, sealKey: Secret<String>?) throws(KeyRingError) -> KeyRing {
        var signing = ring?.signingKeys ?? []
        var activeSigning = ring?.activeSigningKeyID ?? ""
        var sealing = ring?.sealingKeys ?? []
        var activeSealing = ring?.activeSealingKeyID ?? ""
        if let jwtSecret {
            let bytes = Array(jwtSecret.value.utf8)
            guard bytes.count >= KeyRing.minimumSigningKeyBytes else {
                throw .invalid("AUTHGATE_JWT_SECRET must be at least \(KeyRing.minimumSigningKeyBytes) bytes (got \(bytes.count))")
            }
            let key = KeyRingKey(id: "env-" + derivedID(bytes), material: bytes)
            signing = [key] + signing.filter { $0.id != key.id }
            activeSigning = key.id
        }
        if let sealKey {
            guard let decoded = Data(base64Encoded: sealKey.value), decoded.count == KeyRing.sealingKeyBytes else {
                throw .invalid("AUTHGATE_SEAL_KEY must be the base64 of exactly \(KeyRing.sealingKeyBytes) bytes")
            }
            let bytes = [UInt8](decoded)
            let key = KeyRingKey(id: "env-" + derivedID(bytes), material: bytes)
            sealing = [key] + sealing.filter { $0.id != key.id }
            activeSealing = key.id
        }
        return try KeyRing(signingKeys: signing, activeSigningKeyID: activeSigning, sealingKeys: sealing, activeSealingKeyID: activeSealing)
    }

    /// A public id for a key: a hash prefix, which reveals nothing usable about the key.
    private static func derivedID(_ key: [UInt8]) -> String {
        Sodium.hex(Sodium.sha256(Array("authgate-key-id:".utf8) + key).prefix(6))
    }
}
