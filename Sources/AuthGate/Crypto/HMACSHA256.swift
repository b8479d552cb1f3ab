// HMACSHA256: JWT signatures through OpenSSL. A key is prepared once (the algorithm fetched, the
// key schedule computed) and copied per message; a failure is an error, never an empty MAC that
// could compare equal to an empty signature.
import COpenSSL

public enum HMACError: Error, Equatable {
    /// OpenSSL could not compute the MAC (out of memory, or a broken library).
    case failed
}

/// `@unchecked Sendable`: the context is written once, in init, and only read (copied) after;
/// OpenSSL's EVP_MAC_CTX_dup does not modify its source.
public final class HMACSHA256Key: @unchecked Sendable {
    public static let outputSize = 32
    private let context: OpaquePointer

    public init(_ key: [UInt8]) throws(HMACError) {
        guard let context = key.withUnsafeBufferPointer({ copenssl_hmac_sha256_new($0.baseAddress, $0.count) }) else { throw .failed }
        self.context = context
    }

    // Keys live as long as the key ring that holds them; there is no earlier point to free them.
    deinit { EVP_MAC_CTX_free(context) }

    /// The 32-byte MAC of `message`.
    public func authenticate(_ message: UnsafeRawBufferPointer) throws(HMACError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Self.outputSize)
        let ok = out.withUnsafeMutableBufferPointer { buffer in
            copenssl_hmac_sha256(context, message.baseAddress?.assumingMemoryBound(to: UInt8.self), message.count, buffer.baseAddress)
        }
        guard ok == 1 else { throw .failed }
        return out
    }

    public func authenticate(_ message: [UInt8]) throws(HMACError) -> [UInt8] {
        // withUnsafeBytes rethrows untyped: carry the outcome out as a Result.
        try message.withUnsafeBytes { bytes in Result { () throws(HMACError) in try authenticate(bytes) } }.get()
    }
}

public enum HMACSHA256 {
    /// RFC 4231 test case 2 (key "Jefe"): run at start-up, so a broken library stops the gateway
    /// instead of signing or verifying with garbage.
    public static func selfTest() throws(HMACError) {
        let key = try HMACSHA256Key(Array("Jefe".utf8))
        let mac = try key.authenticate(Array("what do ya want for nothing?".utf8))
        guard Sodium.hex(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" else { throw .failed }
    }
}
