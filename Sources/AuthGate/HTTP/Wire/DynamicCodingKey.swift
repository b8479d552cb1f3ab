// DynamicCodingKey: a member name known only at run time (a readiness check, a log field, a test
// tool's JSON member), for wire shapes whose keys are data.

public struct DynamicCodingKey: CodingKey {
    public var stringValue: String
    public var intValue: Int? { nil }
    public init(_ name: String) { stringValue = name }
    public init?(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) { nil }
}
