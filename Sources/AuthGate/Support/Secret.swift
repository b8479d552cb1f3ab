// Secret: a value that must never be printed, logged or encoded by accident.

/// Wraps a secret so that string interpolation, `print`, logging and `dump` show `***`.
/// Read the value only where it is used: `secret.value`.
public struct Secret<Value: Sendable>: Sendable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    public let value: Value

    public init(_ value: Value) { self.value = value }

    public var description: String { "***" }
    public var debugDescription: String { "***" }
    public var customMirror: Mirror { Mirror(self, children: []) }
}

extension Secret: Equatable where Value: Equatable {}
