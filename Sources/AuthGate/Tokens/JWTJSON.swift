// JWTJSON: reads the two small JSON objects of a JWT (header and claims) straight from their
// bytes, without Foundation's JSONDecoder, which cost more than the signature check on every
// verify. Strict: valid JSON only (RFC 8259), no repeated member among those we read (RFC 7519
// §4 lets us refuse them), integers only where an integer belongs; unknown members are skipped.

/// A position in a JSON text held in memory; every read is bounds-checked.
struct JWTJSONScanner {
    let bytes: UnsafeRawBufferPointer
    var index = 0
    static let maximumDepth = 32

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var atEnd: Bool { index >= bytes.count }
    var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func skipWhitespace() {
        while let byte = peek, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
    }

    mutating func expect(_ byte: UInt8) throws(JWTError) {
        skipWhitespace()
        guard peek == byte else { throw .malformed }
        index += 1
    }

    /// A string's raw content (between the quotes) and whether it holds escapes.
    mutating func rawString() throws(JWTError) -> (start: Int, end: Int, escaped: Bool) {
        try expect(UInt8(ascii: "\""))
        let start = index
        var escaped = false
        while let byte = peek {
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return (start, index - 1, escaped)
            case UInt8(ascii: "\\"):
                escaped = true
                index += 2
            case 0..<0x20:
                throw .malformed  // control characters must be escaped
            default:
                index += 1
            }
        }
        throw .malformed
    }

    /// Whether a member name equals `name`: compared as bytes, or decoded when it holds escapes.
    func nameIs(_ raw: (start: Int, end: Int, escaped: Bool), _ name: StaticString) -> Bool {
        if raw.escaped { return (try? decode(raw)) == name.description }
        guard raw.end - raw.start == name.utf8CodeUnitCount else { return false }
        return name.withUTF8Buffer { expected in
            var offset = 0
            while offset < expected.count {
                if bytes[raw.start + offset] != expected[offset] { return false }
                offset += 1
            }
            return true
        }
    }

    /// The string's value: escapes resolved, UTF-8 validated.
    func decode(_ raw: (start: Int, end: Int, escaped: Bool)) throws(JWTError) -> String {
        let content = UnsafeRawBufferPointer(rebasing: bytes[raw.start..<raw.end])
        if !raw.escaped {
            guard let text = String(validating: content, as: UTF8.self) else { throw .malformed }
            return text
        }
        var out: [UInt8] = []
        out.reserveCapacity(content.count)
        var position = 0
        while position < content.count {
            let byte = content[position]
            guard byte == UInt8(ascii: "\\") else {
                out.append(byte)
                position += 1
                continue
            }
            guard position + 1 < content.count else { throw .malformed }
            let escape = content[position + 1]
            position += 2
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try Self.hex4(content, at: position)
                position += 4
                if (0xD800..<0xDC00).contains(scalar) {
                    // A high surrogate must be followed by \u and a low one.
                    guard position + 6 <= content.count, content[position] == UInt8(ascii: "\\"), content[position + 1] == UInt8(ascii: "u")
                    else { throw .malformed }
                    let low = try Self.hex4(content, at: position + 2)
                    guard (0xDC00..<0xE000).contains(low) else { throw .malformed }
                    position += 6
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(scalar) {
                    throw .malformed
                }
                guard let unicode = Unicode.Scalar(scalar) else { throw .malformed }
                out.append(contentsOf: Array(String(Character(unicode)).utf8))
            default:
                throw .malformed
            }
        }
        guard let text = String(validating: out, as: UTF8.self) else { throw .malformed }
        return text
    }

    private static func hex4(_ content: UnsafeRawBufferPointer, at position: Int) throws(JWTError) -> UInt32 {
        guard position + 4 <= content.count else { throw .malformed }
        var value: UInt32 = 0
        for offset in 0..<4 {
            let byte = content[position + offset]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw .malformed
            }
            value = value << 4 | digit
        }
        return value
    }

    mutating func string() throws(JWTError) -> String { try decode(rawString()) }

    /// A JSON number that is an integer (no fraction, no exponent) within Int64.
    mutating func integer() throws(JWTError) -> Int64 {
        skipWhitespace()
        let negative = peek == UInt8(ascii: "-")
        if negative { index += 1 }
        guard let first = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { throw .malformed }
        if first == UInt8(ascii: "0") {
            index += 1
            if let next = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(next) { throw .malformed }  // no leading zeros
            return 0
        }
        var value: Int64 = 0
        while let byte = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = negative ? times.subtractingReportingOverflow(Int64(byte - 48)) : times.addingReportingOverflow(Int64(byte - 48))
            guard !overflow1 && !overflow2 else { throw .malformed }
            value = sum
            index += 1
        }
        if let byte = peek, byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") { throw .malformed }
        return value
    }

    /// Skips one value of any kind, checking it is valid JSON.
    mutating func skipValue(depth: Int = 0) throws(JWTError) {
        guard depth < Self.maximumDepth else { throw .malformed }
        skipWhitespace()
        guard let byte = peek else { throw .malformed }
        switch byte {
        case UInt8(ascii: "\""):
            _ = try string()
        case UInt8(ascii: "{"):
            index += 1
            skipWhitespace()
            if peek == UInt8(ascii: "}") {
                index += 1
                return
            }
            while true {
                _ = try string()
                try expect(UInt8(ascii: ":"))
                try skipValue(depth: depth + 1)
                skipWhitespace()
                guard let next = peek else { throw .malformed }
                index += 1
                if next == UInt8(ascii: "}") { return }
                guard next == UInt8(ascii: ",") else { throw .malformed }
            }
        case UInt8(ascii: "["):
            index += 1
            skipWhitespace()
            if peek == UInt8(ascii: "]") {
                index += 1
                return
            }
            while true {
                try skipValue(depth: depth + 1)
                skipWhitespace()
                guard let next = peek else { throw .malformed }
                index += 1
                if next == UInt8(ascii: "]") { return }
                guard next == UInt8(ascii: ",") else { throw .malformed }
            }
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: try skipNumber()
        }
    }

    private mutating func literal(_ word: StaticString) throws(JWTError) {
        guard index + word.utf8CodeUnitCount <= bytes.count else { throw .malformed }
        let matches = word.withUTF8Buffer { expected in expected.indices.allSatisfy { bytes[index + $0] == expected[$0] } }
        guard matches else { throw .malformed }
        index += word.utf8CodeUnitCount
    }

    private mutating func skipNumber() throws(JWTError) {
        let isDigit = { (byte: UInt8) in (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
        if peek == UInt8(ascii: "-") { index += 1 }
        guard let first = peek, isDigit(first) else { throw .malformed }
        if first == UInt8(ascii: "0") { index += 1 } else { while let byte = peek, isDigit(byte) { index += 1 } }
        if peek == UInt8(ascii: ".") {
            index += 1
            guard let byte = peek, isDigit(byte) else { throw .malformed }
            while let byte = peek, isDigit(byte) { index += 1 }
        }
        if let byte = peek, byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
            index += 1
            if let sign = peek, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { index += 1 }
            guard let byte = peek, isDigit(byte) else { throw .malformed }
            while let byte = peek, isDigit(byte) { index += 1 }
        }
    }

    /// Walks an object's members; `member` reads the value of a name it wants (and returns true)
    /// or leaves it to be skipped (false). Ends at the end of the text (only whitespace may follow).
    mutating func object(_ member: (inout JWTJSONScanner, (start: Int, end: Int, escaped: Bool)) throws(JWTError) -> Bool) throws(JWTError) {
        try expect(UInt8(ascii: "{"))
        skipWhitespace()
        if peek == UInt8(ascii: "}") {
            index += 1
        } else {
            while true {
                let name = try rawString()
                try expect(UInt8(ascii: ":"))
                skipWhitespace()
                if try !member(&self, name) {
                    // A name we do not read must still be a valid string (UTF-8, escapes), as
                    // RFC 7515 and 7519 ask of header and claims: found by scripts/fuzz (jwt).
                    _ = try decode(name)
                    try skipValue(depth: 1)
                }
                skipWhitespace()
                guard let next = peek else { throw .malformed }
                index += 1
                if next == UInt8(ascii: "}") { break }
                guard next == UInt8(ascii: ",") else { throw .malformed }
            }
        }
        skipWhitespace()
        guard atEnd else { throw .malformed }
    }
}
