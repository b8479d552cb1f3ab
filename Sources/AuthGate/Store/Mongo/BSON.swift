// BSON: the Swift values authgate sends to and reads from MongoDB. They cross into libbson as
// canonical Extended JSON (bson_new_from_json / bson_as_canonical_extended_json), so no
// libbson struct ever lives on the Swift side.
import Foundation

indirect enum BSON: Sendable, Equatable {
    case string(String)
    case int32(Int32)
    case int64(Int64)
    case double(Double)
    case bool(Bool)
    case null
    case date(Date)
    case binary([UInt8])
    case document(BSONDocument)
    case array([BSON])

    var string: String? { if case .string(let v) = self { v } else { nil } }
    var date: Date? { if case .date(let v) = self { v } else { nil } }
    var bytes: [UInt8]? { if case .binary(let v) = self { v } else { nil } }
    var document: BSONDocument? { if case .document(let v) = self { v } else { nil } }
    var array: [BSON]? { if case .array(let v) = self { v } else { nil } }
    var int: Int64? {
        switch self {
        case .int32(let v): Int64(v)
        case .int64(let v): v
        case .double(let v) where v.rounded() == v: Int64(v)
        default: nil
        }
    }
}

/// An ordered document: key order matters to MongoDB (a command's first key names it).
struct BSONDocument: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    var pairs: [(String, BSON)]

    init(dictionaryLiteral elements: (String, BSON)...) { pairs = elements }
    init(_ pairs: [(String, BSON)]) { self.pairs = pairs }

    subscript(key: String) -> BSON? {
        get { pairs.first { $0.0 == key }?.1 }
        set {
            if let index = pairs.firstIndex(where: { $0.0 == key }) {
                if let newValue { pairs[index].1 = newValue } else { pairs.remove(at: index) }
            } else if let newValue {
                pairs.append((key, newValue))
            }
        }
    }

    static func == (lhs: BSONDocument, rhs: BSONDocument) -> Bool {
        lhs.pairs.count == rhs.pairs.count && zip(lhs.pairs, rhs.pairs).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }
}

// MARK: Canonical Extended JSON

extension BSONDocument {
    var extendedJSON: String {
        var out = "{"
        for (index, (key, value)) in pairs.enumerated() {
            if index > 0 { out += "," }
            out += BSON.quote(key) + ":" + value.extendedJSON
        }
        return out + "}"
    }

    /// Parses canonical Extended JSON as libbson prints it.
    init?(extendedJSON text: String) {
        guard let object = try? JSONDecoder().decode([String: JSONValue].self, from: Data(text.utf8)) else { return nil }
        self.init(object.map { ($0.key, BSON(json: $0.value)) })
    }
}

/// Plain JSON, as libbson's canonical Extended JSON uses it (every number is wrapped in a string).
enum JSONValue: Decodable {
    case string(String), number(Double), bool(Bool), null, array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let v = try? container.decode(Bool.self) { self = .bool(v) }
        else if let v = try? container.decode(String.self) { self = .string(v) }
        else if let v = try? container.decode(Double.self) { self = .number(v) }
        else if let v = try? container.decode([JSONValue].self) { self = .array(v) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    var string: String? { if case .string(let v) = self { v } else { nil } }
    var object: [String: JSONValue]? { if case .object(let v) = self { v } else { nil } }
}

extension BSON {
    var extendedJSON: String {
        switch self {
        case .string(let v): BSON.quote(v)
        case .int32(let v): #"{"$numberInt":"\#(v)"}"#
        case .int64(let v): #"{"$numberLong":"\#(v)"}"#
        case .double(let v): #"{"$numberDouble":"\#(v)"}"#
        case .bool(let v): v ? "true" : "false"
        case .null: "null"
        case .date(let v): #"{"$date":{"$numberLong":"\#(Int64((v.timeIntervalSince1970 * 1000).rounded()))"}}"#
        case .binary(let v): #"{"$binary":{"base64":"\#(Data(v).base64EncodedString())","subType":"00"}}"#
        case .document(let v): v.extendedJSON
        case .array(let v): "[" + v.map(\.extendedJSON).joined(separator: ",") + "]"
        }
    }

    init(json value: JSONValue) {
        switch value {
        case .string(let v): self = .string(v)
        case .number(let v): self = v.rounded() == v && abs(v) < 9e15 ? .int64(Int64(v)) : .double(v)
        case .bool(let v): self = .bool(v)
        case .null: self = .null
        case .array(let v): self = .array(v.map(BSON.init(json:)))
        case .object(let object):
            if let long = object["$numberLong"]?.string, let v = Int64(long) {
                self = .int64(v)
            } else if let int = object["$numberInt"]?.string, let v = Int32(int) {
                self = .int32(v)
            } else if let double = object["$numberDouble"]?.string, let v = Double(double) {
                self = .double(v)
            } else if let date = object["$date"] {
                let milliseconds = date.object?["$numberLong"]?.string.flatMap(Double.init) ?? 0
                self = .date(Date(timeIntervalSince1970: milliseconds / 1000))
            } else if let base64 = object["$binary"]?.object?["base64"]?.string {
                self = .binary(Data(base64Encoded: base64).map { [UInt8]($0) } ?? [])
            } else if let oid = object["$oid"]?.string {
                self = .string(oid)
            } else {
                self = .document(BSONDocument(object.map { ($0.key, BSON(json: $0.value)) }))
            }
        }
    }

    static func quote(_ string: String) -> String {
        var out = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
