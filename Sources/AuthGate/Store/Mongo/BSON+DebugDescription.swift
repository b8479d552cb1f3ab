// BSON+DebugDescription: a readable rendering of documents for tests and debugging; nothing sends
// it anywhere. Strings print verbatim and binaries as base64 plus their bytes read as UTF-8, so a
// search of a dump for a secret finds it whether it was stored as a string or as bytes.
import Foundation

extension BSONDocument: CustomDebugStringConvertible {
    var debugDescription: String {
        "{" + pairs.map { "\($0.0): \($0.1.debugDescription)" }.joined(separator: ", ") + "}"
    }
}

extension BSON: CustomDebugStringConvertible {
    var debugDescription: String {
        switch self {
        case .string(let v): "\"\(v)\""
        case .int32(let v): "\(v)"
        case .int64(let v): "Int64(\(v))"
        case .double(let v): "\(v)"
        case .bool(let v): "\(v)"
        case .null: "null"
        case .date(let v): "Date(\(v.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))))"
        // Invalid UTF-8 turns into U+FFFD, leaving any text inside the bytes intact.
        case .binary(let v): "Binary(base64: \(Data(v).base64EncodedString()), utf8: \"\(String(decoding: v, as: UTF8.self))\")"
        case .document(let v): v.debugDescription
        case .array(let v): "[" + v.map(\.debugDescription).joined(separator: ", ") + "]"
        }
    }
}
