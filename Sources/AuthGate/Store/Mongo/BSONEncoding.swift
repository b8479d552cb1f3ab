// BSONEncoding: BSONDocument to BSON bytes and back (bsonspec.org 1.1), the only form in which
// documents cross into libbson. Every length is checked against its enclosing document before a
// byte is read, so malformed input throws and never reads out of bounds.
import Foundation

/// Why bytes could not be decoded or a document encoded; `offset` is the byte where it went wrong.
struct BSONError: Error, Equatable, CustomStringConvertible {
    enum Reason: Equatable, Sendable {
        /// A length or value runs past the end of its enclosing document or of the input.
        case truncated
        /// A length prefix is negative, too small, or disagrees with the content.
        case badLength
        /// A document, string or key lacks its terminating 0x00.
        case missingTerminator
        case invalidUTF8
        case invalidBoolean(UInt8)
        case unknownType(UInt8)
        /// More than `BSONDocument.maximumNesting` documents or arrays inside one another.
        case tooDeep
        /// Encoding: keys are C strings.
        case keyContainsNUL
        /// Encoding: a date whose milliseconds do not fit an Int64.
        case dateOutOfRange
        /// Encoding: BSON lengths are int32.
        case tooLarge
    }

    var reason: Reason
    var offset: Int

    var description: String { "BSON \(reason) at byte \(offset)" }
}

extension BSONDocument {
    /// Documents and arrays allowed inside the top-level one. MongoDB refuses deeper documents
    /// anyway, and the cap bounds the stack the recursive codec uses on hostile input.
    static let maximumNesting = 100

    func bsonBytes() throws -> [UInt8] {
        var writer = BSONWriter()
        try writer.write(self, depth: 0)
        return writer.bytes
    }

    init(bsonBytes bytes: [UInt8]) throws {
        self = try bytes.withUnsafeBufferPointer { try BSONDocument(bsonBytes: $0) }
    }

    /// Decodes one document that fills `bytes` exactly. The bytes are only read during the call,
    /// so they may be borrowed from libbson.
    init(bsonBytes bytes: UnsafeBufferPointer<UInt8>) throws {
        var reader = BSONReader(bytes)
        self = try reader.document(depth: 0, limit: bytes.count)
        guard reader.offset == bytes.count else { throw BSONError(reason: .badLength, offset: 0) }
    }
}

// MARK: Encoding

private struct BSONWriter {
    var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(512) }

    mutating func write(_ document: BSONDocument, depth: Int) throws {
        let start = try open(depth: depth)
        for (key, value) in document.pairs {
            guard !key.utf8.contains(0) else { throw BSONError(reason: .keyContainsNUL, offset: bytes.count) }
            try element(key, value, depth: depth)
        }
        try close(start)
    }

    mutating func write(array: [BSON], depth: Int) throws {
        let start = try open(depth: depth)
        for (index, value) in array.enumerated() { try element(String(index), value, depth: depth) }
        try close(start)
    }

    private mutating func open(depth: Int) throws -> Int {
        guard depth <= BSONDocument.maximumNesting else { throw BSONError(reason: .tooDeep, offset: bytes.count) }
        let start = bytes.count
        bytes.append(contentsOf: [0, 0, 0, 0])  // the length, known once the elements are written
        return start
    }

    private mutating func close(_ start: Int) throws {
        bytes.append(0)
        try patchLength(at: start)
    }

    private mutating func element(_ key: String, _ value: BSON, depth: Int) throws {
        let start = bytes.count
        switch value {
        case .double(let v):
            header(0x01, key)
            append(v.bitPattern)
        case .string(let v):
            header(0x02, key)
            append(string: v)
        case .document(let v):
            header(0x03, key)
            try write(v, depth: depth + 1)
        case .array(let v):
            header(0x04, key)
            try write(array: v, depth: depth + 1)
        case .binary(let v):
            guard let length = Int32(exactly: v.count) else { throw BSONError(reason: .tooLarge, offset: start) }
            header(0x05, key)
            append(length)
            bytes.append(0x00)  // generic binary subtype
            bytes.append(contentsOf: v)
        case .bool(let v):
            header(0x08, key)
            bytes.append(v ? 1 : 0)
        case .date(let v):
            // To the nearest millisecond, not truncated: a date read back from BSON is ms / 1000
            // in a Double, which can sit a hair below the millisecond it came from.
            guard let milliseconds = Int64(exactly: (v.timeIntervalSince1970 * 1000).rounded()) else {
                throw BSONError(reason: .dateOutOfRange, offset: start)
            }
            header(0x09, key)
            append(milliseconds)
        case .null:
            header(0x0A, key)
        case .int32(let v):
            header(0x10, key)
            append(v)
        case .int64(let v):
            header(0x12, key)
            append(v)
        }
    }

    private mutating func header(_ type: UInt8, _ key: String) {
        bytes.append(type)
        bytes.append(contentsOf: key.utf8)
        bytes.append(0)
    }

    private mutating func append(string: String) {
        let start = bytes.count
        bytes.append(contentsOf: [0, 0, 0, 0])
        bytes.append(contentsOf: string.utf8)
        bytes.append(0)
        // A String cannot reach 2 GiB of UTF-8 in a document that must fit an int32 anyway;
        // close() of the enclosing document rejects that size.
        let length = Int32(truncatingIfNeeded: bytes.count - start - 4)
        set(length, at: start)
    }

    private mutating func append(_ value: some FixedWidthInteger) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    private mutating func patchLength(at start: Int) throws {
        guard let length = Int32(exactly: bytes.count - start) else { throw BSONError(reason: .tooLarge, offset: start) }
        set(length, at: start)
    }

    private mutating func set(_ value: Int32, at offset: Int) {
        let bits = UInt32(bitPattern: value)
        for index in 0..<4 { bytes[offset + index] = UInt8(truncatingIfNeeded: bits >> (8 * index)) }
    }
}

// MARK: Decoding

/// Types authgate never writes map onto the nearest value so that any valid reply decodes:
/// ObjectId → its 24-hex string (as Extended JSON did), decimal128 → its canonical string,
/// timestamp → {t, i}, regex → {pattern, options}, DBPointer → {ref, id}, code → its source
/// string, code with scope → {code, scope}, symbol → string, undefined/MinKey/MaxKey → null.
private struct BSONReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var offset = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    private func fail(_ reason: BSONError.Reason, at offset: Int? = nil) -> BSONError {
        BSONError(reason: reason, offset: offset ?? self.offset)
    }

    /// Reads a document starting at `offset` that must end at or before `limit`.
    mutating func document(depth: Int, limit: Int) throws -> BSONDocument {
        guard depth <= BSONDocument.maximumNesting else { throw fail(.tooDeep) }
        let start = offset
        let length = Int(try int32(limit: limit))
        guard length >= 5 else { throw fail(.badLength, at: start) }
        guard length <= limit - start else { throw fail(.truncated, at: start) }
        let end = start + length
        guard bytes[end - 1] == 0 else { throw fail(.missingTerminator, at: end - 1) }
        // Elements must fit before the terminator; each read below is bounded by it.
        let elementsEnd = end - 1
        var pairs: [(String, BSON)] = []
        while offset < elementsEnd {
            let type = bytes[offset]
            offset += 1
            let key = try cString(limit: elementsEnd)
            pairs.append((key, try value(type: type, depth: depth, limit: elementsEnd)))
        }
        offset = end
        return BSONDocument(pairs)
    }

    private mutating func value(type: UInt8, depth: Int, limit: Int) throws -> BSON {
        let start = offset
        switch type {
        case 0x01: return .double(Double(bitPattern: try integer(UInt64.self, limit: limit)))
        case 0x02, 0x0D, 0x0E: return .string(try string(limit: limit))
        case 0x03: return .document(try document(depth: depth + 1, limit: limit))
        // Array keys ("0", "1", …) are not checked; libbson and pymongo do not check them either.
        case 0x04: return .array(try document(depth: depth + 1, limit: limit).pairs.map(\.1))
        case 0x05: return .binary(try binary(limit: limit))
        case 0x06, 0x0A, 0x7F, 0xFF: return .null
        case 0x07: return .string(Self.hex(try take(12, limit: limit)))
        case 0x08:
            let byte = try take(1, limit: limit)[0]
            guard byte <= 1 else { throw fail(.invalidBoolean(byte), at: start) }
            return .bool(byte == 1)
        case 0x09: return .date(Date(timeIntervalSince1970: Double(try integer(Int64.self, limit: limit)) / 1000))
        case 0x0B:
            let pattern = try cString(limit: limit)
            return .document(["pattern": .string(pattern), "options": .string(try cString(limit: limit))])
        case 0x0C:
            let namespace = try string(limit: limit)
            return .document(["ref": .string(namespace), "id": .string(Self.hex(try take(12, limit: limit)))])
        case 0x0F:
            let length = Int(try int32(limit: limit))
            guard length >= 14 else { throw fail(.badLength, at: start) }  // int32 + empty string + empty document
            guard length <= limit - start else { throw fail(.truncated, at: start) }
            let code = try string(limit: start + length)
            let scope = try document(depth: depth + 1, limit: start + length)
            guard offset == start + length else { throw fail(.badLength, at: start) }
            return .document(["code": .string(code), "scope": .document(scope)])
        case 0x10: return .int32(try integer(Int32.self, limit: limit))
        case 0x11:
            let bits = try integer(UInt64.self, limit: limit)
            return .document(["t": .int64(Int64(bits >> 32)), "i": .int64(Int64(bits & 0xFFFF_FFFF))])
        case 0x12: return .int64(try integer(Int64.self, limit: limit))
        case 0x13:
            let low = try integer(UInt64.self, limit: limit)
            return .string(BSONDecimal128.string(low: low, high: try integer(UInt64.self, limit: limit)))
        default: throw fail(.unknownType(type), at: start)
        }
    }

    /// The next `count` bytes, if they end at or before `limit`.
    private mutating func take(_ count: Int, limit: Int) throws -> UnsafeBufferPointer<UInt8> {
        guard count >= 0, count <= limit - offset else { throw fail(.truncated) }
        defer { offset += count }
        return UnsafeBufferPointer(rebasing: bytes[offset..<offset + count])
    }

    private mutating func integer<T: FixedWidthInteger>(_: T.Type, limit: Int) throws -> T {
        let raw = UnsafeRawBufferPointer(try take(MemoryLayout<T>.size, limit: limit))
        return T(littleEndian: raw.loadUnaligned(as: T.self))
    }

    private mutating func int32(limit: Int) throws -> Int32 { try integer(Int32.self, limit: limit) }

    private mutating func string(limit: Int) throws -> String {
        let start = offset
        let length = Int(try int32(limit: limit))
        guard length >= 1 else { throw fail(.badLength, at: start) }
        let content = try take(length, limit: limit)
        guard content[length - 1] == 0 else { throw fail(.missingTerminator, at: offset - 1) }
        return try utf8(UnsafeBufferPointer(rebasing: content[0..<length - 1]), at: start + 4)
    }

    private mutating func cString(limit: Int) throws -> String {
        let start = offset
        guard let base = bytes.baseAddress, start < limit,
            let nul = memchr(base + start, 0, limit - start)
        else { throw fail(.missingTerminator) }
        let length = UnsafeRawPointer(base + start).distance(to: UnsafeRawPointer(nul))
        let text = try take(length + 1, limit: limit)
        return try utf8(UnsafeBufferPointer(rebasing: text[0..<length]), at: start)
    }

    private mutating func binary(limit: Int) throws -> [UInt8] {
        let start = offset
        let length = Int(try int32(limit: limit))
        guard length >= 0 else { throw fail(.badLength, at: start) }
        let subtype = try take(1, limit: limit)[0]
        var payload = try take(length, limit: limit)
        if subtype == 0x02 {
            // The deprecated "old binary" subtype repeats the length inside the payload.
            guard length >= 4,
                Int(Int32(littleEndian: UnsafeRawBufferPointer(payload).loadUnaligned(as: Int32.self))) == length - 4
            else { throw fail(.badLength, at: start) }
            payload = UnsafeBufferPointer(rebasing: payload[4...])
        }
        return Array(payload)
    }

    private func utf8(_ text: UnsafeBufferPointer<UInt8>, at start: Int) throws -> String {
        guard let string = String(validating: text, as: UTF8.self) else { throw fail(.invalidUTF8, at: start) }
        return string
    }

    private static let digits = Array("0123456789abcdef".utf8)

    private static func hex(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
