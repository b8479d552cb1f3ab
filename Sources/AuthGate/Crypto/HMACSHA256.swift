// HMACSHA256: JWT signatures through OpenSSL, as the design names it.
import COpenSSL

public enum HMACSHA256 {
    public static let outputSize = 32

    public static func authenticate(_ message: [UInt8], key: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let ok = key.withUnsafeBytes { keyBytes in
            message.withUnsafeBytes { messageBytes in
                HMAC(
                    EVP_sha256(), keyBytes.baseAddress, Int32(key.count),
                    messageBytes.baseAddress?.assumingMemoryBound(to: UInt8.self), message.count,
                    &out, &length)
            }
        }
        // HMAC only fails on allocation failure; a wrong signature is safer than a crash here.
        guard ok != nil, length == outputSize else { return [] }
        return Array(out.prefix(outputSize))
    }
}
