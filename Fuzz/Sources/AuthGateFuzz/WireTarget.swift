// WireTarget: the gateway's own JSON encoder (every answer body, the CLI's --json) on values the
// fuzzer builds: whatever it writes, Foundation's parser must read back as the same value.
@testable import AuthGate
import AuthGateTesting
import Foundation

enum WireTarget {
    typealias Value = JSONValue

    static func value(_ input: inout FuzzInput, depth: Int) -> Value {
        switch input.choice(depth < 8 ? 7 : 5) {
        case 0: return .string(input.text())
        case 1: return .integer(input.integer(Int64.self))
        case 2: return .number(Double(bitPattern: input.integer(UInt64.self)))
        case 3: return .bool(input.bool())
        case 4: return .null
        case 5: return .array((0..<input.choice(4)).map { _ in value(&input, depth: depth + 1) })
        default:
            var pairs: [(String, Value)] = []
            for _ in 0..<input.choice(4) {
                let key = input.text()
                // Foundation's parser keeps one of duplicate keys; the encoder may write both.
                if !pairs.contains(where: { $0.0 == key }) { pairs.append((key, value(&input, depth: depth + 1))) }
            }
            return .object(pairs)
        }
    }

    static func run(_ input: FuzzInput) {
        var input = input
        let pretty = input.bool()
        // Answers are always objects at the top.
        let root = Value.object([("v", value(&input, depth: 0))])
        let bytes: [UInt8]
        do {
            bytes = try WireJSONEncoder(prettyPrinted: pretty).encode(root)
        } catch {
            expect(containsNonFinite(root), "encoding failed without a NaN or infinity: \(error)")
            return
        }
        expect(String(validating: bytes, as: UTF8.self) != nil, "encoder wrote invalid UTF-8")
        // JSONDecoder, not JSONSerialization: on Linux the latter misreads some doubles
        // (0.10000005960464477 comes back as …473), JSONDecoder reads them exactly.
        guard let parsed = try? JSONDecoder().decode(Parsed.self, from: Data(bytes)) else {
            fatalError("encoder wrote JSON Foundation cannot parse: \(String(decoding: bytes, as: UTF8.self))")
        }
        expect(same(root, parsed), "JSON reads back as another value: \(String(decoding: bytes, as: UTF8.self))")
    }

    /// Any JSON value, as Foundation's decoder reads it.
    indirect enum Parsed: Decodable {
        case null, bool(Bool), integer(Int64), number(Double), string(String), array([Parsed]), object([String: Parsed])

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .null
            } else if let flag = try? container.decode(Bool.self) {
                self = .bool(flag)
            } else if let number = try? container.decode(Int64.self) {
                self = .integer(number)
            } else if let number = try? container.decode(Double.self) {
                self = .number(number)
            } else if let text = try? container.decode(String.self) {
                self = .string(text)
            } else if let values = try? container.decode([Parsed].self) {
                self = .array(values)
            } else {
                self = .object(try container.decode([String: Parsed].self))
            }
        }
    }

    static func containsNonFinite(_ value: Value) -> Bool {
        switch value {
        case .number(let number): !number.isFinite
        case .array(let values): values.contains(where: containsNonFinite)
        case .object(let pairs): pairs.contains { containsNonFinite($0.1) }
        default: false
        }
    }

    static func same(_ value: Value, _ parsed: Parsed) -> Bool {
        switch (value, parsed) {
        case (.string(let text), .string(let read)): return read.utf8.elementsEqual(text.utf8)
        case (.integer(let number), .integer(let read)): return read == number
        case (.number(let number), .number(let read)): return read == number
        case (.number(let number), .integer(let read)): return Double(read) == number
        case (.bool(let flag), .bool(let read)): return read == flag
        case (.null, .null): return true
        case (.array(let values), .array(let read)): return values.count == read.count && zip(values, read).allSatisfy(same)
        case (.object(let pairs), .object(let read)):
            return pairs.count == read.count && pairs.allSatisfy { key, value in read[key].map { same(value, $0) } ?? false }
        default: return false
        }
    }
}
