// RequestBody: reading and parsing request bodies under the contract's limits.
public import Hummingbird
import Foundation
import NIOCore

enum RequestBody {
    static let limit = 64 * 1024

    /// The body as bytes; 413 past 64 KiB (declared or actual).
    static func collect(_ request: Request) async throws -> ByteBuffer {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit { throw GatewayError.payloadTooLarge }
        do {
            return try await request.body.collect(upTo: limit)
        } catch {
            throw GatewayError.payloadTooLarge
        }
    }

    enum MediaKind { case json, form }

    static func mediaKind(_ request: Request) throws -> MediaKind {
        let type = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        switch type {
        case "application/json": return .json
        case "application/x-www-form-urlencoded": return .form
        default: throw GatewayError.unsupportedMediaType
        }
    }

    /// A flat object of string fields from a JSON or form body; 400 if it is anything else.
    static func fields(_ buffer: ByteBuffer, kind: MediaKind) throws -> [String: String] {
        let bytes = Data(buffer.readableBytesView)
        switch kind {
        case .json:
            guard let object = try? JSONDecoder().decode([String: JSONField].self, from: bytes) else {
                throw GatewayError.invalidRequest("body must be a JSON object")
            }
            return object.compactMapValues(\.string)
        case .form:
            guard let text = String(bytes: bytes, encoding: .utf8) else { throw GatewayError.invalidRequest("body must be UTF-8") }
            var fields: [String: String] = [:]
            for pair in text.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard let name = decodeFormComponent(parts[0]) else { throw GatewayError.invalidRequest("malformed form body") }
                guard let value = decodeFormComponent(parts.count > 1 ? parts[1] : "") else {
                    throw GatewayError.invalidRequest("malformed form body")
                }
                fields[name] = value
            }
            return fields
        }
    }

    static func decodeFormComponent(_ text: Substring) -> String? {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    /// Any JSON value; only strings are kept as fields (a number where a string belongs is absent).
    enum JSONField: Decodable {
        case string(String), other

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) { self = .string(text) } else { self = .other }
        }

        var string: String? { if case .string(let text) = self { text } else { nil } }
    }
}
