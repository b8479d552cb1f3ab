// Base64URL: the unpadded URL-safe alphabet of RFC 4648 §5, used by JWTs and opaque tokens.
// Strict everywhere (padding, stray characters and non-zero trailing bits are refused), so one
// token has exactly one spelling. Secrets (refresh tokens) go through libsodium's constant-time
// codec; JWT segments, which their presenter already knows and the MAC then checks, through a
// table decoder that costs a tenth as much on every verify.
import CSodium

public enum Base64URL {
    private static let variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING

    public static func encode<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        let bytes = Array(bytes)
        var text = [CChar](repeating: 0, count: sodium_base64_encoded_len(bytes.count, variant))
        _ = sodium_bin2base64(&text, text.count, bytes, bytes.count, variant)
        return String(decoding: text.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Decodes unpadded base64url; nil for any character outside the alphabet, padding included.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        Array(text.utf8).withUnsafeBytes { decode(bytes: $0) }
    }

    /// The same, from bytes in place (a token's segment, without copying it out first).
    public static func decode(bytes input: UnsafeRawBufferPointer) -> [UInt8]? {
        _ = Sodium.initialized
        if input.isEmpty { return [] }
        // libsodium maps some bytes above 0x7F to alphabet values (seen with 1.0.18): a token
        // would have more than one spelling. Only ASCII can be base64url.
        guard !input.contains(where: { $0 >= 0x80 }) else { return nil }
        var output = [UInt8](repeating: 0, count: input.count * 3 / 4 + 1)
        var length = 0
        var end: UnsafePointer<CChar>?
        let chars = input.bindMemory(to: CChar.self)
        let rc = sodium_base642bin(&output, output.count, chars.baseAddress, chars.count, nil, &length, &end, variant)
        guard rc == 0, end == UnsafePointer(chars.baseAddress! + chars.count) else { return nil }
        output.removeLast(output.count - length)
        return output
    }

    /// Strict base64url from bytes in place, by table: for JWT segments (not for secrets).
    public static func decodeSegment(_ input: UnsafeRawBufferPointer) -> [UInt8]? {
        let count = input.count
        guard count % 4 != 1 else { return nil }
        let table = decodeTable
        let full = count / 4
        let tail = count % 4
        let outputCount = full * 3 + (tail == 0 ? 0 : tail - 1)
        var valid = true
        let output = [UInt8](unsafeUninitializedCapacity: outputCount) { buffer, initialized in
            var out = 0
            var index = 0
            for _ in 0..<full {
                let a = table[Int(input[index])], b = table[Int(input[index + 1])], c = table[Int(input[index + 2])], d = table[Int(input[index + 3])]
                if (a | b | c | d) & 0x80 != 0 { valid = false; break }
                let group = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
                buffer[out] = UInt8(truncatingIfNeeded: group >> 16)
                buffer[out + 1] = UInt8(truncatingIfNeeded: group >> 8)
                buffer[out + 2] = UInt8(truncatingIfNeeded: group)
                out += 3
                index += 4
            }
            if valid && tail >= 2 {
                let a = table[Int(input[index])], b = table[Int(input[index + 1])]
                let c = tail == 3 ? table[Int(input[index + 2])] : 0
                if (a | b | c) & 0x80 != 0 {
                    valid = false
                } else {
                    let group = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6
                    buffer[out] = UInt8(truncatingIfNeeded: group >> 16)
                    if tail == 3 {
                        buffer[out + 1] = UInt8(truncatingIfNeeded: group >> 8)
                        valid = group & 0xFF == 0  // the unused low bits must be zero
                    } else {
                        valid = group & 0xFFFF == 0
                    }
                    out += tail - 1
                }
            }
            initialized = valid ? outputCount : 0
        }
        return valid ? output : nil
    }

    /// Alphabet value of each byte; 0xFF for anything else (padding included).
    private static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, character) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8.enumerated() {
            table[Int(character)] = UInt8(value)
        }
        return table
    }()
}
