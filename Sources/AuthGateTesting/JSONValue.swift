// JSONValue: a JSON value built in code, members in a given order, for the test tools that write
// JSON of a chosen shape (the fake ShotGrid's answers, the fuzzer's values for the wire encoder).
// It is rendered by whichever Encoder it is given.
import AuthGate

public indirect enum JSONValue: Encodable, Sendable {
    case string(String), integer(Int64), number(Double), bool(Bool), null
    case array([JSONValue])
    case object([(String, JSONValue)])

    /// A scalar as text (the fake ShotGrid's filters compare it); "" for the rest.
    public var text: String {
        switch self {
        case .string(let text): text
        case .integer(let number): String(number)
        case .number(let number): String(number)
        case .bool(let flag): flag ? "true" : "false"
        case .null, .array, .object: ""
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .string(let text):
            var container = encoder.singleValueContainer()
            try container.encode(text)
        case .integer(let number):
            var container = encoder.singleValueContainer()
            try container.encode(number)
        case .number(let number):
            var container = encoder.singleValueContainer()
            try container.encode(number)
        case .bool(let flag):
            var container = encoder.singleValueContainer()
            try container.encode(flag)
        case .null:
            var container = encoder.singleValueContainer()
            try container.encodeNil()
        case .array(let values):
            var container = encoder.unkeyedContainer()
            for value in values { try container.encode(value) }
        case .object(let pairs):
            var container = encoder.container(keyedBy: DynamicCodingKey.self)
            for (key, value) in pairs { try container.encode(value, forKey: DynamicCodingKey(key)) }
        }
    }
}
