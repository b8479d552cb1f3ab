// WireJSONEncoder: the one JSON encoder of the gateway's wire shapes (HTTP answers and the CLI's
// --json). A Codable `Encoder` that keeps keys in the order a type encodes them, so answers list
// the contract's fields in the contract's order on every run. Foundation's JSONEncoder on Linux
// emits keys in hash order (a different order each process), and `.sortedKeys` would reorder them.
import Foundation
public import Hummingbird
import NIOCore

public struct WireJSONEncoder: Sendable {
    /// Indented output with `": "`, for people (the CLI); answers on the wire are compact.
    public var prettyPrinted: Bool

    public init(prettyPrinted: Bool = false) { self.prettyPrinted = prettyPrinted }

    public func encode(_ value: some Encodable) throws -> [UInt8] {
        let root = try WireEncodingNode.encode(value, codingPath: [])
        var writer = WireJSONWriter(pretty: prettyPrinted)
        try writer.write(root, depth: 0)
        return writer.bytes
    }

    public func encodeToString(_ value: some Encodable) throws -> String {
        String(decoding: try encode(value), as: UTF8.self)
    }
}

extension WireJSONEncoder: ResponseEncoder {
    /// Every JSON answer of the gateway is about a caller's credentials or state: never cached.
    public func encode(_ value: some Encodable, from request: Request, context: some RequestContext) throws -> Response {
        let bytes = try encode(value)
        return Response(
            status: .ok,
            headers: [.contentType: "application/json", .cacheControl: "no-store", .contentLength: String(bytes.count)],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

// MARK: The tree being built

/// A JSON value under construction. Objects and arrays are classes so that a nested container
/// fills its slot in place while the parent keeps encoding.
enum WireEncodingNode {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case object(ObjectStorage)
    case array(ArrayStorage)

    final class ObjectStorage {
        var entries: [(key: String, value: Slot)] = []
    }

    final class ArrayStorage {
        var elements: [Slot] = []
    }

    /// A place a value goes once its encoder has produced it.
    final class Slot {
        var node: WireEncodingNode?
        init(_ node: WireEncodingNode? = nil) { self.node = node }
    }

    static func encode(_ value: some Encodable, codingPath: [any CodingKey]) throws -> WireEncodingNode {
        if let date = value as? Date { return .string(RFC3339.format(date)) }
        if let url = value as? URL { return .string(url.absoluteString) }
        let encoder = WireEncoderImplementation(codingPath: codingPath)
        try value.encode(to: encoder)
        return encoder.slot.node ?? .object(ObjectStorage())
    }

    static func number(_ value: Double, codingPath: [any CodingKey]) throws -> WireEncodingNode {
        guard value.isFinite else {
            throw EncodingError.invalidValue(value, .init(codingPath: codingPath, debugDescription: "JSON has no NaN or infinity"))
        }
        if value == value.rounded(), abs(value) < 1e15 { return .number(String(Int64(value))) }
        return .number(String(value))
    }
}

// MARK: Encoder and containers

private final class WireEncoderImplementation: Encoder {
    let codingPath: [any CodingKey]
    let userInfo: [CodingUserInfoKey: Any] = [:]
    let slot = WireEncodingNode.Slot()

    init(codingPath: [any CodingKey]) { self.codingPath = codingPath }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        let storage: WireEncodingNode.ObjectStorage
        if case .object(let existing)? = slot.node {
            storage = existing
        } else {
            storage = .init()
            slot.node = .object(storage)
        }
        return KeyedEncodingContainer(WireKeyedContainer<Key>(storage: storage, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        let storage: WireEncodingNode.ArrayStorage
        if case .array(let existing)? = slot.node {
            storage = existing
        } else {
            storage = .init()
            slot.node = .array(storage)
        }
        return WireUnkeyedContainer(storage: storage, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        WireSingleValueContainer(slot: slot, codingPath: codingPath)
    }
}

private struct WireKeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let storage: WireEncodingNode.ObjectStorage
    let codingPath: [any CodingKey]

    private func put(_ node: WireEncodingNode, _ key: Key) {
        storage.entries.append((key.stringValue, .init(node)))
    }

    mutating func encodeNil(forKey key: Key) throws { put(.null, key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { put(.bool(value), key) }
    mutating func encode(_ value: String, forKey key: Key) throws { put(.string(value), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { put(try .number(value, codingPath: codingPath + [key]), key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { put(try .number(Double(value), codingPath: codingPath + [key]), key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { put(.number(String(value)), key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { put(.number(String(value)), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { put(.number(String(value)), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { put(.number(String(value)), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { put(.number(String(value)), key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { put(.number(String(value)), key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { put(.number(String(value)), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { put(.number(String(value)), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { put(.number(String(value)), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { put(.number(String(value)), key) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        put(try WireEncodingNode.encode(value, codingPath: codingPath + [key]), key)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let nested = WireEncodingNode.ObjectStorage()
        put(.object(nested), key)
        return KeyedEncodingContainer(WireKeyedContainer<NestedKey>(storage: nested, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested = WireEncodingNode.ArrayStorage()
        put(.array(nested), key)
        return WireUnkeyedContainer(storage: nested, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder { superEncoder(forKey: Key(stringValue: "super")!) }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        let encoder = WireEncoderImplementation(codingPath: codingPath + [key])
        storage.entries.append((key.stringValue, encoder.slot))
        return encoder
    }
}

private struct WireUnkeyedContainer: UnkeyedEncodingContainer {
    let storage: WireEncodingNode.ArrayStorage
    let codingPath: [any CodingKey]
    var count: Int { storage.elements.count }

    private struct Index: CodingKey {
        var stringValue: String { String(intValue!) }
        var intValue: Int?
        init(_ index: Int) { intValue = index }
        init?(stringValue: String) { nil }
        init?(intValue: Int) { self.intValue = intValue }
    }

    private func put(_ node: WireEncodingNode) { storage.elements.append(.init(node)) }
    private var nextPath: [any CodingKey] { codingPath + [Index(count)] }

    mutating func encodeNil() throws { put(.null) }
    mutating func encode(_ value: Bool) throws { put(.bool(value)) }
    mutating func encode(_ value: String) throws { put(.string(value)) }
    mutating func encode(_ value: Double) throws { put(try .number(value, codingPath: nextPath)) }
    mutating func encode(_ value: Float) throws { put(try .number(Double(value), codingPath: nextPath)) }
    mutating func encode(_ value: Int) throws { put(.number(String(value))) }
    mutating func encode(_ value: Int8) throws { put(.number(String(value))) }
    mutating func encode(_ value: Int16) throws { put(.number(String(value))) }
    mutating func encode(_ value: Int32) throws { put(.number(String(value))) }
    mutating func encode(_ value: Int64) throws { put(.number(String(value))) }
    mutating func encode(_ value: UInt) throws { put(.number(String(value))) }
    mutating func encode(_ value: UInt8) throws { put(.number(String(value))) }
    mutating func encode(_ value: UInt16) throws { put(.number(String(value))) }
    mutating func encode(_ value: UInt32) throws { put(.number(String(value))) }
    mutating func encode(_ value: UInt64) throws { put(.number(String(value))) }
    mutating func encode<T: Encodable>(_ value: T) throws { put(try WireEncodingNode.encode(value, codingPath: nextPath)) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let nested = WireEncodingNode.ObjectStorage()
        let path = nextPath
        put(.object(nested))
        return KeyedEncodingContainer(WireKeyedContainer<NestedKey>(storage: nested, codingPath: path))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let nested = WireEncodingNode.ArrayStorage()
        let path = nextPath
        put(.array(nested))
        return WireUnkeyedContainer(storage: nested, codingPath: path)
    }

    mutating func superEncoder() -> any Encoder {
        let encoder = WireEncoderImplementation(codingPath: nextPath)
        storage.elements.append(encoder.slot)
        return encoder
    }
}

private struct WireSingleValueContainer: SingleValueEncodingContainer {
    let slot: WireEncodingNode.Slot
    let codingPath: [any CodingKey]

    mutating func encodeNil() throws { slot.node = .null }
    mutating func encode(_ value: Bool) throws { slot.node = .bool(value) }
    mutating func encode(_ value: String) throws { slot.node = .string(value) }
    mutating func encode(_ value: Double) throws { slot.node = try .number(value, codingPath: codingPath) }
    mutating func encode(_ value: Float) throws { slot.node = try .number(Double(value), codingPath: codingPath) }
    mutating func encode(_ value: Int) throws { slot.node = .number(String(value)) }
    mutating func encode(_ value: Int8) throws { slot.node = .number(String(value)) }
    mutating func encode(_ value: Int16) throws { slot.node = .number(String(value)) }
    mutating func encode(_ value: Int32) throws { slot.node = .number(String(value)) }
    mutating func encode(_ value: Int64) throws { slot.node = .number(String(value)) }
    mutating func encode(_ value: UInt) throws { slot.node = .number(String(value)) }
    mutating func encode(_ value: UInt8) throws { slot.node = .number(String(value)) }
    mutating func encode(_ value: UInt16) throws { slot.node = .number(String(value)) }
    mutating func encode(_ value: UInt32) throws { slot.node = .number(String(value)) }
    mutating func encode(_ value: UInt64) throws { slot.node = .number(String(value)) }
    mutating func encode<T: Encodable>(_ value: T) throws { slot.node = try WireEncodingNode.encode(value, codingPath: codingPath) }
}

// MARK: Writing bytes

/// RFC 8259 text: strings escape `"`, `\` and control characters; everything else, `/` and
/// non-ASCII included, is written as UTF-8 as it is.
struct WireJSONWriter {
    let pretty: Bool
    var bytes: [UInt8] = []
    static let maximumDepth = 64

    init(pretty: Bool) {
        self.pretty = pretty
        bytes.reserveCapacity(256)
    }

    mutating func write(_ node: WireEncodingNode, depth: Int) throws {
        guard depth < Self.maximumDepth else {
            throw EncodingError.invalidValue(depth, .init(codingPath: [], debugDescription: "nesting too deep"))
        }
        switch node {
        case .null: bytes.append(contentsOf: "null".utf8)
        case .bool(let value): bytes.append(contentsOf: (value ? "true" : "false").utf8)
        case .number(let text): bytes.append(contentsOf: text.utf8)
        case .string(let text): writeString(text)
        case .object(let storage):
            bytes.append(UInt8(ascii: "{"))
            for (index, entry) in storage.entries.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                newline(depth + 1)
                writeString(entry.key)
                bytes.append(UInt8(ascii: ":"))
                if pretty { bytes.append(UInt8(ascii: " ")) }
                try write(entry.value.node ?? .object(.init()), depth: depth + 1)
            }
            if !storage.entries.isEmpty { newline(depth) }
            bytes.append(UInt8(ascii: "}"))
        case .array(let storage):
            bytes.append(UInt8(ascii: "["))
            for (index, element) in storage.elements.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                newline(depth + 1)
                try write(element.node ?? .null, depth: depth + 1)
            }
            if !storage.elements.isEmpty { newline(depth) }
            bytes.append(UInt8(ascii: "]"))
        }
    }

    private mutating func newline(_ depth: Int) {
        guard pretty else { return }
        bytes.append(UInt8(ascii: "\n"))
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: depth * 2))
    }

    mutating func writeString(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): bytes.append(contentsOf: #"\\"#.utf8)
            case UInt8(ascii: "\n"): bytes.append(contentsOf: #"\n"#.utf8)
            case UInt8(ascii: "\r"): bytes.append(contentsOf: #"\r"#.utf8)
            case UInt8(ascii: "\t"): bytes.append(contentsOf: #"\t"#.utf8)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: #"\u00"#.utf8)
                bytes.append(hex[Int(byte >> 4)])
                bytes.append(hex[Int(byte & 0xF)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
