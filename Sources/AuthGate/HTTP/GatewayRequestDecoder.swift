// GatewayRequestDecoder: decodes the bodies of the gateway's own endpoints by content type (JSON
// or form), under the 64 KiB limit, and turns every decoding failure into the contract's 4xx.
public import Hummingbird
import Foundation

public struct GatewayRequestDecoder: RequestDecoder {
    public static let limit = 64 * 1024

    public init() {}

    enum MediaKind { case json, form }

    static func mediaKind(_ request: Request) throws(APIError) -> MediaKind {
        let type = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        switch type {
        case "application/json": return .json
        case "application/x-www-form-urlencoded": return .form
        default: throw .unsupportedMediaType
        }
    }

    /// The body's bytes; 413 past the limit, declared or actual.
    static func collect(_ request: Request) async throws(APIError) -> ByteBuffer {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit { throw .payloadTooLarge }
        do {
            return try await request.body.collect(upTo: limit)
        } catch {
            throw .payloadTooLarge
        }
    }

    public func decode<T: Decodable>(_ type: T.Type, from request: Request, context: some RequestContext) async throws -> T {
        let kind = try Self.mediaKind(request)
        return try decode(type, from: await Self.collect(request), kind: kind)
    }

    /// Decodes collected bytes; messages name the field, never echo the input (it may be a password).
    func decode<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer, kind: MediaKind) throws(APIError) -> T {
        do {
            switch kind {
            case .json: return try JSONDecoder().decode(type, from: Data(buffer.readableBytesView))
            case .form: return try URLEncodedFormDecoder().decode(type, from: String(decoding: buffer.readableBytesView, as: UTF8.self))
            }
        } catch DecodingError.keyNotFound(let key, _) {
            throw .invalidRequest("\(key.stringValue) is required")
        } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context) {
            throw .invalidRequest("\(context.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type")
        } catch {
            throw .invalidRequest(kind == .json ? "body must be a JSON object" : "malformed form body")
        }
    }
}
