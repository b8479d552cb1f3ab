// FuzzInput: reads structure out of libFuzzer's bytes: a choice, a number, a field up to a
// separator, the rest. Running out of bytes gives zeros and empty fields, never a failure.
import Foundation

struct FuzzInput {
    private(set) var bytes: ArraySlice<UInt8>

    init(_ raw: UnsafeRawBufferPointer) { bytes = ArraySlice(raw) }
    init(_ bytes: [UInt8]) { self.bytes = bytes[...] }

    var isEmpty: Bool { bytes.isEmpty }

    mutating func byte() -> UInt8 { bytes.popFirst() ?? 0 }

    /// One of `count` choices.
    mutating func choice(_ count: Int) -> Int { Int(byte()) % count }

    mutating func bool() -> Bool { byte() & 1 == 1 }

    mutating func integer<T: FixedWidthInteger>(_: T.Type = T.self) -> T {
        var value: T = 0
        for _ in 0..<MemoryLayout<T>.size { value = value << 8 | T(truncatingIfNeeded: byte()) }
        return value
    }

    /// The bytes up to (not including) the next `separator`, which is consumed; all the rest if none.
    mutating func field(separator: UInt8 = 0) -> [UInt8] {
        if let end = bytes.firstIndex(of: separator) {
            defer { bytes = bytes[(end + 1)...] }
            return Array(bytes[..<end])
        }
        return rest()
    }

    /// A field as text; invalid UTF-8 becomes U+FFFD, as a server decoding it would see it.
    mutating func text(separator: UInt8 = 0) -> String { String(decoding: field(separator: separator), as: UTF8.self) }

    mutating func rest() -> [UInt8] {
        defer { bytes = [] }
        return Array(bytes)
    }

    mutating func restText() -> String { String(decoding: rest(), as: UTF8.self) }
}

/// A property of the code under test does not hold: stop here so libFuzzer keeps the input.
func expect(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) {
    if !condition() { fatalError("property violated: \(message())", file: file, line: line) }
}
