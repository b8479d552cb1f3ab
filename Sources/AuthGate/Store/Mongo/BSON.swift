// BSON: the Swift values authgate sends to and reads from MongoDB. They cross into libbson as
// BSON bytes (BSONEncoding.swift); no libbson struct ever lives on the Swift side.
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
