// Sodium: the libsodium calls authgate makes (randomness, constant-time compare, SHA-256).
import CSodium
import Foundation

public enum Sodium {
    /// `sodium_init` must run once before any other call; a static let runs it exactly once.
    static let initialized: Bool = {
        precondition(sodium_init() >= 0, "libsodium failed to initialise")
        return true
    }()

    public static func randomBytes(_ count: Int) -> [UInt8] {
        _ = initialized
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, count) }
        return bytes
    }

    /// Constant-time equality; different lengths are unequal (the length is not secret).
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        _ = initialized
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in sodium_memcmp(pa.baseAddress, pb.baseAddress, a.count) == 0 } }
    }

    public static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        _ = initialized
        var digest = [UInt8](repeating: 0, count: Int(crypto_hash_sha256_BYTES))
        _ = crypto_hash_sha256(&digest, bytes, UInt64(bytes.count))
        return digest
    }

    public static func sha256Hex(_ text: String) -> String {
        hex(sha256(Array(text.utf8)))
    }

    /// Lowercase hex (sodium_bin2hex runs in constant time, so it may encode secrets too).
    public static func hex(_ bytes: some Collection<UInt8>) -> String {
        let bytes = Array(bytes)
        var text = [CChar](repeating: 0, count: bytes.count * 2 + 1)
        _ = sodium_bin2hex(&text, text.count, bytes, bytes.count)
        return String(decoding: text.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Overwrites a buffer that held key material before it is released.
    public static func wipe(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { sodium_memzero($0.baseAddress, $0.count) }
    }
}
