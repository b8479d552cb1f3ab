// BodyTarget: the bodies of POST /auth/login and /auth/refresh, decoded as JSON or as a form
// the way GatewayRequestDecoder does, and the Content-Type header that picks one.
@testable import AuthGate
import HTTPTypes
import Hummingbird
import NIOCore

enum BodyTarget {
    static func run(_ input: FuzzInput) {
        var input = input
        switch input.choice(3) {
        case 0:
            let kind: GatewayRequestDecoder.MediaKind = input.bool() ? .json : .form
            let buffer = ByteBuffer(bytes: input.rest())
            check { () throws(APIError) in try GatewayRequestDecoder().decode(LoginRequest.self, from: buffer, kind: kind) }
        case 1:
            let kind: GatewayRequestDecoder.MediaKind = input.bool() ? .json : .form
            let buffer = ByteBuffer(bytes: input.rest())
            check { () throws(APIError) in try GatewayRequestDecoder().decode(RefreshTokenRequest.self, from: buffer, kind: kind) }
        default:
            // Content-Type as the HTTP parser hands it over: NUL and newlines already spaces.
            var fields = HTTPFields()
            fields.append(HTTPField(name: .contentType, lenientValue: input.rest()))
            let request = Request(head: HTTPRequest(method: .post, scheme: "http", authority: "gw", path: "/auth/login", headerFields: fields), body: .init(buffer: ByteBuffer()))
            do {
                let kind = try GatewayRequestDecoder.mediaKind(request)
                let type = fields[.contentType]?.lowercased() ?? ""
                expect(type.contains(kind == .json ? "application/json" : "application/x-www-form-urlencoded"), "media kind not named by the header")
            } catch {
                expect(error.status == .unsupportedMediaType, "unexpected status \(error.status) for a content type")
            }
        }
    }

    /// Decoding either gives a value or the contract's 400 invalid_request: never another error.
    static func check<T>(_ decode: () throws(APIError) -> T) {
        do {
            _ = try decode()
        } catch {
            expect(error.status == .badRequest && error.code == "invalid_request", "unexpected decoding error \(error.status) \(error.code)")
        }
    }
}
