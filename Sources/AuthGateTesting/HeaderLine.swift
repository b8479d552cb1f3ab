// HeaderLine: one HTTP header as it appeared on the wire (name as sent, duplicates kept apart),
// for tests that check exactly what a proxy passed on.
public struct HeaderLine: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }

    public var description: String { "\(name): \(value)" }
}

extension [HeaderLine] {
    /// The first value of a header, by case-insensitive name.
    public func first(_ name: String) -> String? {
        self.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// Every value of a header, in order, by case-insensitive name.
    public func all(_ name: String) -> [String] {
        self.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }
}
