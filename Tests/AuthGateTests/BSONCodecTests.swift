// BSONCodecTests: the BSON byte codec on its own, against libbson, against pymongo
// (scripts/fixtures/bson_interop.py) and through a MongoDB server.
@testable import AuthGate
import AuthGateTesting
import CMongoC
import Foundation
import Testing

/// A date at a whole millisecond, the precision BSON keeps.
private func date(ms: Int64) -> Date { Date(timeIntervalSince1970: Double(ms) / 1000) }

/// Every value type authgate stores, nested, in a deliberate key order.
private let everyType: BSONDocument = [
    "zulu": .string("first key, not sorted"),
    "text": .string("héllo wörld ✓ 🦊"),
    "empty": .string(""),
    "nul inside": .string("a\u{0}b"),
    "int32": .int32(7),
    "int32 min": .int32(.min),
    "int32 max": .int32(.max),
    "negative int32": .int32(-42),
    "int64 small": .int64(7),
    "int64 min": .int64(.min),
    "int64 max": .int64(.max),
    "double": .double(-1.5e-300),
    "negative zero": .double(-0.0),
    "infinity": .double(-.infinity),
    "true": .bool(true),
    "false": .bool(false),
    "null": .null,
    "now-ish": .date(date(ms: 1_700_000_000_123)),
    "moon landing": .date(date(ms: -14_182_940_000)),
    "one ms before 1970": .date(date(ms: -1)),
    "epoch": .date(date(ms: 0)),
    "bytes": .binary([0, 1, 2, 0xFE, 0xFF]),
    "no bytes": .binary([]),
    "clé ünïcode ✓": .document([
        "inner": .array([.int32(1), .int64(2), .string("three"), .document([:]), .array([])]),
        "deeper": .document(["x": .document(["y": .null])]),
    ]),
    "list": .array([.date(date(ms: 5)), .binary([9]), .bool(false), .double(2.5)]),
    "a": .string("last key"),
]

/// The length-prefixed, 0x00-terminated frame of a document whose elements are `body`.
private func frame(_ body: [UInt8]) -> [UInt8] { le32(Int32(body.count + 5)) + body + [0] }
private func le32(_ value: Int32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
private func le64(_ value: Int64) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
private func element(_ type: UInt8, _ key: String, _ value: [UInt8]) -> [UInt8] { [type] + Array(key.utf8) + [0] + value }
private func bsonString(_ text: String) -> [UInt8] { le32(Int32(text.utf8.count + 1)) + Array(text.utf8) + [0] }

/// `depth` documents inside one another, innermost empty.
private func nestedBytes(depth: Int) -> [UInt8] {
    var inner = frame([])
    for _ in 0..<depth { inner = frame(element(0x03, "d", inner)) }
    return inner
}

private func nestedDocument(depth: Int) -> BSONDocument {
    var inner: BSONDocument = [:]
    for _ in 0..<depth { inner = ["d": .document(inner)] }
    return inner
}

private func decodingError(_ bytes: [UInt8]) -> BSONError.Reason? {
    do {
        _ = try BSONDocument(bsonBytes: bytes)
        return nil
    } catch let error as BSONError {
        return error.reason
    } catch {
        return nil
    }
}

private extension Array where Element == UInt8 {
    init(hex: String) throws {
        let digits = Array(hex.utf8)
        guard digits.count.isMultiple(of: 2) else { throw TestSetupError("odd hex length") }
        self = try stride(from: 0, to: digits.count, by: 2).map { index in
            guard let byte = UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16) else {
                throw TestSetupError("bad hex")
            }
            return byte
        }
    }

    var hex: String { map { String(format: "%02x", $0) }.joined() }
}

@Suite struct BSONCodecTests {
    @Test func everyStoredTypeRoundTripsWithKeyOrderAndIntegerWidths() throws {
        let decoded = try BSONDocument(bsonBytes: everyType.bsonBytes())
        #expect(decoded == everyType)
        #expect(decoded.pairs.map(\.0) == everyType.pairs.map(\.0))
        // Equal values, and also the same case: an int32 never comes back as an int64.
        #expect(decoded["int32"] == .int32(7) && decoded["int64 small"] == .int64(7))
        #expect(decoded["negative zero"]?.doubleBits == (-0.0).bitPattern)
        let nan = try BSONDocument(bsonBytes: BSONDocument([("nan", .double(.nan))]).bsonBytes())
        #expect(nan["nan"]?.doubleBits == Double.nan.bitPattern)
    }

    /// Examples from bsonspec.org and hand-assembled elements: the bytes are the spec's, not
    /// merely something our own decoder accepts.
    @Test func encodingMatchesTheSpecByteForByte() throws {
        let hello: [UInt8] = [0x16, 0, 0, 0, 0x02] + Array("hello".utf8) + [0, 6, 0, 0, 0] + Array("world".utf8) + [0, 0]
        #expect(try BSONDocument([("hello", .string("world"))]).bsonBytes() == hello)
        let document: BSONDocument = [
            "i": .int32(-2), "l": .int64(-2), "d": .double(1.0), "t": .bool(true), "n": .null,
            "at": .date(date(ms: -1500)), "b": .binary([0xAB]), "s": .string(""), "o": .document([:]), "a": .array([.int32(5)]),
        ]
        let expected = frame(
            element(0x10, "i", le32(-2)) + element(0x12, "l", le64(-2))
                + element(0x01, "d", le64(Int64(bitPattern: 1.0.bitPattern)))
                + element(0x08, "t", [1]) + element(0x0A, "n", []) + element(0x09, "at", le64(-1500))
                + element(0x05, "b", le32(1) + [0x00, 0xAB]) + element(0x02, "s", bsonString("")) + element(0x03, "o", frame([]))
                + element(0x04, "a", frame(element(0x10, "0", le32(5)))))
        #expect(try document.bsonBytes() == expected)
        #expect(try BSONDocument(bsonBytes: expected) == document)
    }

    @Test func datesKeepMillisecondsEitherSideOf1970() throws {
        let instants: [Int64] = [
            -62_135_596_800_000, -14_182_940_000, -1_001, -1, 0, 1, 999, 1_700_000_000_123, 253_402_300_799_999,
        ]
        for milliseconds in instants {
            let bytes = try BSONDocument([("at", .date(date(ms: milliseconds)))]).bsonBytes()
            #expect(Array(bytes[8..<16]) == le64(milliseconds), "\(milliseconds)")
            #expect(try BSONDocument(bsonBytes: bytes)["at"] == .date(date(ms: milliseconds)), "\(milliseconds)")
        }
        // Below a millisecond, a date goes to the nearest one.
        let bytes = try BSONDocument([("at", .date(Date(timeIntervalSince1970: -0.0016)))]).bsonBytes()
        #expect(Array(bytes[8..<16]) == le64(-2))
    }

    @Test func malformedBytesThrowTheirReason() throws {
        let valid = frame(element(0x02, "k", bsonString("v")))
        let cases: [(String, [UInt8], BSONError.Reason)] = [
            ("empty input", [], .truncated),
            ("only a length", le32(5), .truncated),
            ("length below 5", le32(4) + [0], .badLength),
            ("negative length", le32(-5) + [0], .badLength),
            ("length past the input", le32(100) + [0], .truncated),
            ("trailing bytes", valid + [0], .badLength),
            ("no final 0x00", Array(valid.dropLast()) + [1], .missingTerminator),
            ("string length 0", frame(element(0x02, "k", le32(0))), .badLength),
            ("negative string length", frame(element(0x02, "k", le32(-1) + [0])), .badLength),
            ("string past its document", frame(element(0x02, "k", le32(50) + [0x61, 0])), .truncated),
            ("string without 0x00", frame(element(0x02, "k", le32(2) + [0x61, 0x62])), .missingTerminator),
            ("invalid UTF-8 value", frame(element(0x02, "k", le32(3) + [0xC3, 0x28, 0])), .invalidUTF8),
            ("overlong UTF-8 value", frame(element(0x02, "k", le32(3) + [0xC0, 0xAF, 0])), .invalidUTF8),
            ("invalid UTF-8 key", frame([0x0A, 0xFF, 0xFE, 0]), .invalidUTF8),
            ("key without 0x00", frame([0x0A, 0x61, 0x62]), .missingTerminator),
            ("type byte without key", frame([0x0A]), .missingTerminator),
            ("int32 cut short", frame(element(0x10, "k", [1, 0])), .truncated),
            ("int64 cut short", frame(element(0x12, "k", [1, 0, 0, 0])), .truncated),
            ("date cut short", frame(element(0x09, "k", [])), .truncated),
            ("boolean 2", frame(element(0x08, "k", [2])), .invalidBoolean(2)),
            ("unknown type", frame(element(0x20, "k", [])), .unknownType(0x20)),
            ("nested length past its parent", frame(element(0x03, "k", le32(64) + [0])), .truncated),
            ("nested without 0x00", frame(element(0x03, "k", le32(5) + [1])), .missingTerminator),
            ("negative binary length", frame(element(0x05, "k", le32(-1) + [0])), .badLength),
            ("binary past its document", frame(element(0x05, "k", le32(9) + [0, 1])), .truncated),
            ("old binary with a wrong inner length", frame(element(0x05, "k", le32(5) + [2] + le32(9) + [1])), .badLength),
            ("ObjectId cut short", frame(element(0x07, "k", [1, 2, 3])), .truncated),
            (
                "code with scope, wrong total",
                frame(element(0x0F, "k", le32(17) + bsonString("x") + frame([])) + element(0x0A, "n", [])), .badLength
            ),
        ]
        for (name, bytes, reason) in cases {
            #expect(decodingError(bytes) == reason, "\(name)")
        }
    }

    /// Every prefix and every single-byte corruption of a real document either decodes or throws;
    /// none crashes or reads outside the buffer.
    @Test func everyTruncationAndByteFlipThrowsOrDecodes() throws {
        let bytes = try MongoSessionStore.document(interopSession).bsonBytes()
        for length in 0..<bytes.count {
            #expect(decodingError(Array(bytes[0..<length])) != nil, "prefix \(length)")
        }
        var decodedCorruptions = 0
        var corruptions = 0
        for index in bytes.indices {
            for replacement: UInt8 in [0x00, 0x01, 0x7F, 0x80, 0xFF] where replacement != bytes[index] {
                var corrupt = bytes
                corrupt[index] = replacement
                corruptions += 1
                if (try? BSONDocument(bsonBytes: corrupt)) != nil { decodedCorruptions += 1 }
            }
        }
        // Both outcomes occur: a changed byte inside a string or binary is still valid BSON.
        #expect(decodedCorruptions > 0 && decodedCorruptions < corruptions)
    }

    @Test func nestingIsCappedAtAHundredLevelsBothWays() throws {
        #expect(try BSONDocument(bsonBytes: nestedBytes(depth: 100)) == nestedDocument(depth: 100))
        #expect(decodingError(nestedBytes(depth: 101)) == .tooDeep)
        #expect(decodingError(nestedBytes(depth: 5_000)) == .tooDeep)
        var arrays = frame([])
        for _ in 0..<200 { arrays = frame(element(0x04, "0", arrays)) }
        #expect(decodingError(arrays) == .tooDeep)

        #expect(try nestedDocument(depth: 100).bsonBytes() == nestedBytes(depth: 100))
        let error = #expect(throws: BSONError.self) { try nestedDocument(depth: 101).bsonBytes() }
        #expect(error?.reason == .tooDeep)
    }

    @Test func encodingRefusesWhatBSONCannotHold() {
        let key = #expect(throws: BSONError.self) { try BSONDocument([("a\u{0}b", .null)]).bsonBytes() }
        #expect(key?.reason == .keyContainsNUL)
        for far in [1e300, -1e300, .infinity] {
            let date = #expect(throws: BSONError.self) {
                try BSONDocument([("at", .date(Date(timeIntervalSince1970: far)))]).bsonBytes()
            }
            #expect(date?.reason == .dateOutOfRange)
        }
    }

    /// Types authgate never writes still decode, to the values BSONReader documents.
    @Test func foreignTypesDecodeToTheirNearestValue() throws {
        let bytes = frame(
            element(0x07, "oid", (0..<12).map { UInt8($0 * 17) })
                + element(0x11, "ts", le64(Int64(1_700_000_000) << 32 | 7))
                + element(0x13, "dec", le64(15) + le64(0x3042_0000_0000_0000))  // 15E+1
                + element(0x0B, "re", Array("^a$".utf8) + [0] + Array("i".utf8) + [0])
                + element(0x0D, "code", bsonString("f()")) + element(0x0E, "sym", bsonString("s"))
                + element(0x0F, "scoped", le32(4 + 8 + 12) + bsonString("g()") + frame(element(0x10, "x", le32(1))))
                + element(0x0C, "ptr", bsonString("db.c") + [UInt8](repeating: 0xAB, count: 12))
                + element(0x05, "old", le32(6) + [2] + le32(2) + [7, 8]) + element(0x05, "uuid", le32(2) + [4, 1, 2])
                + element(0x06, "undefined", []) + element(0xFF, "min", []) + element(0x7F, "max", []))
        let decoded = try BSONDocument(bsonBytes: bytes)
        let expected: BSONDocument = [
            "oid": .string("00112233445566778899aabb"),
            "ts": .document(["t": .int64(1_700_000_000), "i": .int64(7)]),
            "dec": .string("1.5E+2"),
            "re": .document(["pattern": .string("^a$"), "options": .string("i")]),
            "code": .string("f()"), "sym": .string("s"),
            "scoped": .document(["code": .string("g()"), "scope": .document(["x": .int32(1)])]),
            "ptr": .document(["ref": .string("db.c"), "id": .string(String(repeating: "ab", count: 12))]),
            "old": .binary([7, 8]), "uuid": .binary([1, 2]),
            "undefined": .null, "min": .null, "max": .null,
        ]
        #expect(decoded == expected)
    }

    @Test func decimal128PrintsCanonicalStrings() {
        func bits(_ exponent: Int, _ coefficient: UInt64, negative: Bool = false) -> (UInt64, UInt64) {
            (coefficient, (negative ? 1 << 63 : 0) | UInt64(exponent + 6176) << 49)
        }
        let cases: [((UInt64, UInt64), String)] = [
            (bits(0, 1), "1"), (bits(0, 0), "0"), (bits(0, 0, negative: true), "-0"), (bits(-1, 15), "1.5"),
            (bits(2, 15), "1.5E+3"), (bits(-6, 1234, negative: true), "-0.001234"), (bits(-7, 1), "1E-7"),
            (bits(-8, 12), "1.2E-7"), (bits(3, 0), "0E+3"), (bits(-2, 100), "1.00"), (bits(-10, 12_345), "0.0000012345"),
            ((0, 0x7C00_0000_0000_0000), "NaN"), ((0, 0x7800_0000_0000_0000), "Infinity"),
            ((0, 0xF800_0000_0000_0000), "-Infinity"),
            // A coefficient above 10^34 - 1 is non-canonical and reads as zero.
            ((.max, 0x3041_FFFF_FFFF_FFFF), "0"), ((0, 0x6C11_8000_0000_0000), "0E+3"),
        ]
        for ((low, high), text) in cases {
            #expect(BSONDecimal128.string(low: low, high: high) == text)
        }
    }

    /// The ShotGrid test searches a dump for secrets as text: strings must print verbatim and
    /// text inside binaries must show too.
    @Test func debugDescriptionShowsEveryStringAndBinary() {
        let token = "eyJhbGciOi.J9\"quoted\\slash"
        let document: BSONDocument = [
            "token": .string(token), "sealed": .binary([0xFF] + Array(token.utf8) + [0x00]),
            "nested": .array([.document(["deep": .string("needle")])]), "n": .int64(5), "i": .int32(5),
        ]
        let text = document.debugDescription
        #expect(text.components(separatedBy: token).count == 3)  // the string and the binary
        #expect(text.contains(Data([0xFF] + Array(token.utf8) + [0x00]).base64EncodedString()))
        #expect(text.contains("needle") && text.contains("Int64(5)") && text.contains("i: 5"))
    }

    /// libbson accepts our bytes as valid BSON, and we read documents libbson built itself.
    @Test func libbsonAndOurCodecAgree() throws {
        let document = MongoSessionStore.document(interopSession)
        try MongoClient.withBSON(document) { bson throws in
            var errorOffset = 0
            #expect(bson_validate(bson, BSON_VALIDATE_UTF8, &errorOffset))
            #expect(bson_count_keys(bson) == UInt32(document.pairs.count))
            #expect(Int(cmongoc_bson_len(bson)) == (try document.bsonBytes()).count)
            #expect(try MongoClient.document(bson) == document)
        }
        let built = bson_new()!
        defer { bson_destroy(built) }
        // Not inside #expect: it evaluates each argument on its own, so a String's C pointer would dangle.
        let appended = bson_append_utf8(built, "s", -1, "ünï", -1) && bson_append_int32(built, "i", -1, -3)
            && bson_append_int64(built, "l", -1, .min) && bson_append_date_time(built, "d", -1, -1_500)
            && bson_append_binary(built, "b", -1, BSON_SUBTYPE_BINARY, [1, 2, 3], 3) && bson_append_null(built, "n", -1)
        #expect(appended)
        let decoded = try MongoClient.document(built)
        #expect(decoded == [
            "s": .string("ünï"), "i": .int32(-3), "l": .int64(.min), "d": .date(date(ms: -1_500)),
            "b": .binary([1, 2, 3]), "n": .null,
        ])
    }
}

// MARK: pymongo

/// The session scripts/fixtures/bson_interop.py encodes.
private let interopSession = SessionRecord(
    id: "sess-interop-1",
    user: UserProfile(id: "42", login: "alice", email: "alice@example.com", name: "Alice Liddell ✓", upstreamID: .number(42)),
    provider: "shotgrid",
    upstream: SealedBox(keyID: "key-2026", nonce: Array(0..<24), ciphertext: [0x00, 0xFF] + Array("sealed ✓".utf8)),
    refreshTokens: [
        RefreshTokenEntry(hash: "hash-old", issuedAt: date(ms: 1_700_000_000_123), retiredAt: date(ms: 1_700_000_100_456), siblingIssued: true),
        RefreshTokenEntry(hash: "hash-new", issuedAt: date(ms: 1_700_000_100_456)),
    ],
    createdAt: date(ms: 1_700_000_000_123), lastSeenAt: date(ms: 1_700_000_100_456), idleExpiresAt: date(ms: 1_700_003_700_456),
    expiresAt: date(ms: 1_700_086_400_123), clientIP: "203.0.113.7", userAgent: "Mozilla/5.0 (ünïcödé)", version: 3)


/// Runs the fixture with the venv's python (pymongo comes with mongoeco[wire]) and returns stdout.
private func pymongo(_ arguments: String...) throws -> String {
    let python = try #require(TestPython.path, "\(TestPython.unavailableReason)")
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/fixtures/bson_interop.py")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = [script.path] + arguments
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    // Read before waiting: a child blocked on a full pipe would never exit.
    let printed = output.fileHandleForReading.readDataToEndOfFile()
    let complaint = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    try #require(process.terminationStatus == 0, "\(String(decoding: complaint, as: UTF8.self))")
    return String(decoding: printed, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

@Suite(.enabled(if: TestPython.isAvailable, Comment(rawValue: TestPython.unavailableReason)))
struct BSONInteropTests {
    @Test func pymongoSessionDocumentReadsAsTheSessionRecord() throws {
        let bytes = try [UInt8](hex: pymongo("session"))
        let document = try BSONDocument(bsonBytes: bytes)
        #expect(try MongoSessionStore.session(from: document) == interopSession)
        #expect(document == MongoSessionStore.document(interopSession))
        // Same types, same key order, same integer widths: our encoding is pymongo's, byte for byte.
        #expect(try MongoSessionStore.document(interopSession).bsonBytes() == bytes)
    }

    @Test func pymongoReadsOurTypes() throws {
        let described = try pymongo("describe", everyType.bsonBytes().hex)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(described.utf8)) as? [String: Any])
        #expect(json["type"] as? String == "dict")
        let pairs = try #require(json["value"] as? [[Any]])
        #expect(pairs.compactMap { $0.first as? String } == everyType.pairs.map(\.0))
        var seen: [String: (type: String, value: Any)] = [:]
        for pair in pairs {
            guard let key = pair.first as? String, let value = pair.last as? [String: Any], let type = value["type"] as? String
            else { continue }
            seen[key] = (type, value["value"] ?? NSNull())
        }
        func check(_ key: String, _ type: String, _ matches: (Any) -> Bool, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(seen[key]?.type == type, "\(key)", sourceLocation: sourceLocation)
            #expect(
                seen[key].map { matches($0.value) } == true, "\(key): \(String(describing: seen[key]?.value))",
                sourceLocation: sourceLocation)
        }
        check("int32", "int") { $0 as? Int == 7 }
        check("int32 min", "int") { $0 as? Int == Int(Int32.min) }
        check("negative int32", "int") { $0 as? Int == -42 }
        check("int64 small", "bson.int64.Int64") { $0 as? Int == 7 }
        check("int64 min", "bson.int64.Int64") { $0 as? Int == Int(Int64.min) }
        check("int64 max", "bson.int64.Int64") { $0 as? Int == Int(Int64.max) }
        check("double", "float") { $0 as? String == "-1.5e-300" }
        check("true", "bool") { $0 as? Bool == true }
        check("null", "NoneType") { $0 is NSNull }
        check("now-ish", "datetime.datetime") { $0 as? Int == 1_700_000_000_123 }
        check("moon landing", "datetime.datetime") { $0 as? Int == -14_182_940_000 }
        check("one ms before 1970", "datetime.datetime") { $0 as? Int == -1 }
        check("bytes", "bytes") { $0 as? String == "000102feff" }
        check("no bytes", "bytes") { $0 as? String == "" }
        check("empty", "str") { $0 as? String == "" }
        check("text", "str") { $0 as? String == "héllo wörld ✓ 🦊" }
        check("nul inside", "str") { $0 as? String == "a\u{0}b" }
        check("list", "list") {
            ($0 as? [[String: Any]])?.compactMap { $0["type"] as? String } == ["datetime.datetime", "bytes", "bool", "float"]
        }
        check("clé ünïcode ✓", "dict") { value in
            let inner = (value as? [[Any]])?.first?.last as? [String: Any]
            let types = (inner?["value"] as? [[String: Any]])?.compactMap { $0["type"] as? String }
            return types == ["int", "bson.int64.Int64", "str", "dict", "list"]
        }
    }

    @Test func pymongoOnlyTypesDecode() throws {
        let printed = try pymongo("exotic")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(printed.utf8)) as? [String: Any])
        let document = try BSONDocument(bsonBytes: [UInt8](hex: try #require(json["hex"] as? String)))
        #expect(document["oid"] == .string("65f0a1b2c3d4e5f601234567"))
        #expect(document["ts"] == .document(["t": .int64(1_700_000_000), "i": .int64(7)]))
        #expect(document["decimals"]?.array?.compactMap(\.string) == json["decimals"] as? [String])
        #expect(document["regex"] == .document(["pattern": .string("^a.c$"), "options": .string("i")]))
        #expect(document["code"] == .string("return 1") && document["min"] == .null && document["max"] == .null)
        #expect(document["uuid"] == .binary(Array(0..<16)))
    }
}

// MARK: MongoDB

@Suite(.enabled(if: MongoEcoServer.isAvailable, Comment(rawValue: MongoEcoServer.unavailableReason)))
struct BSONMongoRoundTripTests {
    /// What the store writes comes back from the server unchanged: values, widths, key order.
    @Test func everyStoredTypeSurvivesTheServer() async throws {
        let uri = TestEnvironment.withDatabase(try await MongoEcoServer.sharedURI(), "t_bson_" + UUID().uuidString.prefix(8).lowercased())
        let pool = try MongoClientPool(uri: uri, timeout: 3)
        do {
            var stored = everyType
            stored.pairs.insert(("_id", .string("every-type")), at: 0)
            let written = stored
            let read = try await pool.withClient { client in
                try client.insertOne("bson", written)
                return try client.find("bson", ["_id": .string("every-type")])
            }
            #expect(read == [written])
            try await pool.withClient { try $0.command(["dropDatabase": .int32(1)]) }
        } catch {
            await pool.close()
            throw error
        }
        await pool.close()
    }
}

private extension BSON {
    var doubleBits: UInt64? { if case .double(let v) = self { v.bitPattern } else { nil } }
}
