// GatewayError: every error a client can see, rendered in one place as the contract's
// {"error","error_description"} body. Internal detail goes to logs, never here.
public import Hummingbird
import HTTPTypes
public import Foundation
import NIOCore

public enum GatewayError: Error, HTTPResponseError, Equatable {
    case invalidRequest(String)
    case payloadTooLarge
    case unsupportedMediaType
    case accessDenied(String)
    case invalidGrant
    /// `tokenSent` adds error="invalid_token" to WWW-Authenticate (RFC 6750 §3.1).
    case invalidToken(tokenSent: Bool)
    case rateLimited(retryAfter: Int)
    case notFound
    case methodNotAllowed
    case storeUnavailable
    case upstreamUnavailable
    case serverError

    public var status: HTTPResponse.Status {
        switch self {
        case .invalidRequest: .badRequest
        case .payloadTooLarge: .contentTooLarge
        case .unsupportedMediaType: .unsupportedMediaType
        case .accessDenied: .forbidden
        case .invalidGrant, .invalidToken: .unauthorized
        case .rateLimited: .tooManyRequests
        case .notFound: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .storeUnavailable, .upstreamUnavailable: .serviceUnavailable
        case .serverError: .internalServerError
        }
    }

    public var code: String {
        switch self {
        case .invalidRequest, .payloadTooLarge, .unsupportedMediaType: "invalid_request"
        case .accessDenied: "access_denied"
        case .invalidGrant: "invalid_grant"
        case .invalidToken: "invalid_token"
        case .rateLimited: "rate_limited"
        case .notFound: "not_found"
        case .methodNotAllowed: "method_not_allowed"
        case .storeUnavailable: "store_unavailable"
        case .upstreamUnavailable: "upstream_unavailable"
        case .serverError: "server_error"
        }
    }

    public var errorDescription: String {
        switch self {
        case .invalidRequest(let detail): detail
        case .payloadTooLarge: "request body exceeds 64 KiB"
        case .unsupportedMediaType: "content type must be application/json or application/x-www-form-urlencoded"
        case .accessDenied(let detail): detail
        case .invalidGrant: "the credentials or refresh token are invalid, expired or revoked"
        case .invalidToken: "the access token is missing, invalid, expired or revoked"
        case .rateLimited: "too many failed sign-in attempts; try again later"
        case .notFound: "no such resource"
        case .methodNotAllowed: "method not allowed"
        case .storeUnavailable: "the session store is unavailable; try again shortly"
        case .upstreamUnavailable: "the identity provider is unavailable; try again shortly"
        case .serverError: "internal error"
        }
    }

    public var headers: HTTPFields {
        var fields: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store"]
        switch self {
        case .invalidToken(let sent):
            fields[.wwwAuthenticate] = sent ? #"Bearer realm="authgate", error="invalid_token""# : #"Bearer realm="authgate""#
        case .rateLimited(let seconds):
            fields[.retryAfter] = String(max(seconds, 1))
        case .storeUnavailable, .upstreamUnavailable:
            fields[.retryAfter] = "1"
        default: break
        }
        return fields
    }

    public var body: String {
        #"{"error":"\#(code)","error_description":"# + GatewayError.jsonString(errorDescription) + "}"
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func jsonString(_ text: String) -> String {
        String(decoding: (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8), as: UTF8.self)
    }
}
