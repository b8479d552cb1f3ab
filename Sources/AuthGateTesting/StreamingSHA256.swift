// StreamingSHA256: an incremental SHA-256 (libsodium), so test servers hash bodies as they stream.
import CSodium
public import NIOCore

public struct StreamingSHA256: Sendable {
    /// `sodium_init` picks the fastest implementation; it must run once before the first hash.
    private static let initialized: Bool = {
        precondition(sodium_init() >= 0, "libsodium failed to initialise")
        return true
    }()

    private var state = crypto_hash_sha256_state()
    /// Bytes fed so far.
    public private(set) var count = 0

    public init() {
        _ = Self.initialized
        _ = crypto_hash_sha256_init(&self.state)
    }

    public mutating func update(_ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { self.update($0) }
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        _ = crypto_hash_sha256_update(&self.state, base.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count))
        self.count += bytes.count
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { self.update($0) }
    }

    /// The digest as lowercase hex. Finalising consumes the state, so the hasher is spent after it.
    public consuming func finalHex() -> String {
        var digest = [UInt8](repeating: 0, count: Int(crypto_hash_sha256_BYTES))
        _ = crypto_hash_sha256_final(&self.state, &digest)
        return Self.hex(digest)
    }

    /// SHA-256 of `bytes`, lowercase hex.
    public static func hex(of bytes: some Sequence<UInt8>) -> String {
        var hasher = StreamingSHA256()
        hasher.update(Array(bytes))
        return hasher.finalHex()
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
