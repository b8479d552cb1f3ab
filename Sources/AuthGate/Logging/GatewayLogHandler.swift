// GatewayLogHandler: the gateway's log lines, as text or one JSON object per line, to stderr.
// Metadata is kept as given and formatted only when a line is written (swift-log's stream
// handler re-renders all metadata on every change, which per-request metadata made a hot spot),
// and every value is escaped: a login with a newline in it cannot forge a log line.
public import Logging
import Foundation
import NIOConcurrencyHelpers

public struct GatewayLogHandler: LogHandler {
    public enum Format: String, Sendable { case text, json }

    let label: String
    let format: Format
    let output: LogOutput
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    public init(label: String, format: Format, level: Logger.Level, output: LogOutput = .standardError, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.format = format
        self.output = output
        logLevel = level
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let line = format == .json
            ? Self.json(time: Date(), level: event.level, label: label, message: "\(event.message)", metadata: merged)
            : Self.text(time: Date(), level: event.level, label: label, message: "\(event.message)", metadata: merged)
        output.write(line)
    }

    static func text(time: Date, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var line = timestamp(time) + " " + level.rawValue + " " + label + ": " + escaped(message)
        for key in metadata.keys.sorted() {
            line += " " + escaped(key) + "=" + quoted(render(metadata[key]!))
        }
        return line + "\n"
    }

    static func json(time: Date, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        let line = LogLine(time: timestamp(time), level: level.rawValue, logger: label, message: message, metadata: metadata)
        // Metadata that cannot be encoded costs the metadata, never the line.
        var bare = line
        bare.metadata = [:]
        return ((try? WireJSONEncoder().encodeToString(line)) ?? (try? WireJSONEncoder().encodeToString(bare)) ?? "") + "\n"
    }

    /// RFC 3339 UTC with milliseconds.
    static func timestamp(_ time: Date) -> String {
        let milliseconds = Int((time.timeIntervalSince1970 * 1000).rounded(.down)) % 1000
        let padded = String(milliseconds + 1000).dropFirst()
        return RFC3339.format(time).dropLast() + "." + padded + "Z"
    }

    static func render(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text): text
        case .stringConvertible(let convertible): convertible.description
        case .array(let values): "[" + values.map(render).joined(separator: ",") + "]"
        case .dictionary(let values): "{" + values.keys.sorted().map { "\($0):\(render(values[$0]!))" }.joined(separator: ",") + "}"
        }
    }

    /// Control characters (newlines above all) and backslashes escaped, so a line stays one line.
    static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F || $0 == "\\" }) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A metadata value for `key=value`: escaped, and quoted when it holds a space or a quote.
    static func quoted(_ text: String) -> String {
        let safe = escaped(text)
        guard safe.isEmpty || safe.contains(" ") || safe.contains("\"") || safe.contains("=") else { return safe }
        return "\"" + safe.replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// `{"time","level","logger","message", …metadata}`, metadata keys in sorted order.
    struct LogLine: Encodable {
        var time: String
        var level: String
        var logger: String
        var message: String
        var metadata: Logger.Metadata

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: DynamicCodingKey.self)
            try container.encode(time, forKey: DynamicCodingKey("time"))
            try container.encode(level, forKey: DynamicCodingKey("level"))
            try container.encode(logger, forKey: DynamicCodingKey("logger"))
            try container.encode(message, forKey: DynamicCodingKey("message"))
            for key in metadata.keys.sorted() where !["time", "level", "logger", "message"].contains(key) {
                try container.encode(MetadataValue(metadata[key]!), forKey: DynamicCodingKey(key))
            }
        }
    }

    struct MetadataValue: Encodable {
        var value: Logger.Metadata.Value
        init(_ value: Logger.Metadata.Value) { self.value = value }

        func encode(to encoder: any Encoder) throws {
            switch value {
            case .string(let text):
                var container = encoder.singleValueContainer()
                try container.encode(text)
            case .stringConvertible(let convertible):
                var container = encoder.singleValueContainer()
                try container.encode(convertible.description)
            case .array(let values):
                var container = encoder.unkeyedContainer()
                for value in values { try container.encode(MetadataValue(value)) }
            case .dictionary(let values):
                var container = encoder.container(keyedBy: DynamicCodingKey.self)
                for key in values.keys.sorted() { try container.encode(MetadataValue(values[key]!), forKey: DynamicCodingKey(key)) }
            }
        }
    }
}

/// Where log lines go: one `write` per line under a lock, so lines from threads never interleave.
public final class LogOutput: Sendable {
    private let lock = NIOLock()
    private let descriptor: Int32

    public init(descriptor: Int32) { self.descriptor = descriptor }

    public static let standardError = LogOutput(descriptor: STDERR_FILENO)

    func write(_ line: String) {
        var line = line
        lock.withLock {
            line.withUTF8 { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = Foundation.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    if written <= 0 { return }
                    offset += written
                }
            }
        }
    }
}
