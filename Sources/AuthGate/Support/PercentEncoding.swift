// PercentEncoding: every byte of a text's UTF-8 outside the set a caller keeps, as %XX (upper-case
// hex, RFC 3986 §2.1). The identity headers and the sign-in redirect's `rd` each keep their own set.

enum PercentEncoding {
    static func encode(_ text: String, keeping keep: (UInt8) -> Bool) -> String {
        let utf8 = text.utf8
        // The common case (/auth/verify's headers): nothing to escape, no copy.
        if utf8.allSatisfy(keep) { return text }
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count * 3)
        for byte in utf8 {
            if keep(byte) {
                out.append(byte)
            } else {
                out.append(contentsOf: [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
