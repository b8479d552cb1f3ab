// SQLiteValue: one bound parameter or one column of a result row, as the store reads and writes it.
import Foundation

enum SQLiteValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    var int: Int64? { if case .integer(let v) = self { v } else if case .real(let v) = self { Int64(v) } else { nil } }
    var double: Double? { if case .real(let v) = self { v } else if case .integer(let v) = self { Double(v) } else { nil } }
    var string: String? { if case .text(let v) = self { v } else { nil } }
    var bytes: [UInt8]? { if case .blob(let v) = self { v } else { nil } }
    var date: Date? { double.map { Date(timeIntervalSince1970: $0) } }
}

extension SQLiteValue {
    init(_ date: Date?) { self = date.map { .real($0.timeIntervalSince1970) } ?? .null }
    init(_ text: String?) { self = text.map { .text($0) } ?? .null }
}
