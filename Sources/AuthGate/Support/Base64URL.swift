// Base64URL: the unpadded URL-safe alphabet of RFC 4648 §5, used by JWTs and opaque tokens.
// libsodium's codec: constant time, and strict (padding, stray characters and non-zero
// trailing bits are refused), so one token has exactly one spelling.
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
        var output = [UInt8](repeating: 0, count: input.count * 3 / 4 + 1)
        var length = 0
        var end: UnsafePointer<CChar>?
        let chars = input.bindMemory(to: CChar.self)
        let rc = sodium_base642bin(&output, output.count, chars.baseAddress, chars.count, nil, &length, &end, variant)
        guard rc == 0, end == UnsafePointer(chars.baseAddress! + chars.count) else { return nil }
        output.removeLast(output.count - length)
        return output
    }
}
