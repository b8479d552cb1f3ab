// DynamicCodingKey: a member name known only at run time (a readiness check, a log field), for
// wire shapes whose keys are data.

struct DynamicCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
