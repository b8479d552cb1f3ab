// APIError: every error a client can see, rendered in one place as the contract's
// {"error","error_description"} body with its status and headers. Session flows throw
// SessionError; this is where it becomes HTTP. Internal detail goes to logs, never here.
public import Hummingbird
public import HTTPTypes

public struct APIError: Error, HTTPResponseError, Equatable {
    public var status: HTTPResponse.Status
    public var code: String
    public var errorDescription: String
    public var headers: HTTPFields

    init(_ status: HTTPResponse.Status, _ code: String, _ description: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.errorDescription = description
        self.headers = headers
    }

    public init(_ error: SessionError) {
        switch error {
        case .invalidRequest(let detail):
            self.init(.badRequest, "invalid_request", detail)
        case .invalidGrant:
            self.init(.unauthorized, "invalid_grant", "the credentials or refresh token are invalid, expired or revoked")
        case .invalidToken(let sent):
            // RFC 6750 §3.1: error="invalid_token" only when a token was sent.
            let challenge = sent ? #"Bearer realm="authgate", error="invalid_token""# : #"Bearer realm="authgate""#
            self.init(.unauthorized, "invalid_token", "the access token is missing, invalid, expired or revoked", headers: [.wwwAuthenticate: challenge])
        case .accessDenied(let detail):
            self.init(.forbidden, "access_denied", detail)
        case .rateLimited(let seconds):
            self.init(.tooManyRequests, "rate_limited", "too many failed sign-in attempts; try again later", headers: [.retryAfter: String(max(seconds, 1))])
        case .notFound:
            self = .notFound
        case .storeUnavailable:
            self.init(.serviceUnavailable, "store_unavailable", "the session store is unavailable; try again shortly", headers: [.retryAfter: "1"])
        case .upstreamUnavailable:
            self.init(.serviceUnavailable, "upstream_unavailable", "the identity provider is unavailable; try again shortly", headers: [.retryAfter: "1"])
        case .overloaded:
            self.init(.serviceUnavailable, "overloaded", "the gateway is busy; try again shortly", headers: [.retryAfter: "1"])
        case .serverError:
            self = .serverError
        }
    }

    public static let notFound = APIError(.notFound, "not_found", "no such resource")
    public static let methodNotAllowed = APIError(.methodNotAllowed, "method_not_allowed", "method not allowed")
    public static let payloadTooLarge = APIError(.contentTooLarge, "invalid_request", "request body exceeds 64 KiB")
    public static let unsupportedMediaType = APIError(
        .unsupportedMediaType, "invalid_request", "content type must be application/json or application/x-www-form-urlencoded")
    public static let serverError = APIError(.internalServerError, "server_error", "internal error")
    public static let badGateway = APIError(.badGateway, "bad_gateway", "the upstream could not be reached or broke the exchange")
    public static let upstreamTimeout = APIError(.gatewayTimeout, "upstream_timeout", "the upstream did not answer in time")

    public static func invalidRequest(_ detail: String) -> APIError { APIError(.badRequest, "invalid_request", detail) }

    /// The contract's error body.
    struct Body: Encodable {
        var error: String
        var error_description: String
    }

    /// The answer's body and headers as a channel handler writes them (the channel-level proxy,
    /// which has no Hummingbird request): the same bytes `response(from:context:)` renders.
    func rendered() -> (headers: HTTPFields, body: [UInt8]) {
        let body = (try? WireJSONEncoder().encode(Body(error: code, error_description: errorDescription))) ?? []
        var fields: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store", .contentLength: String(body.count)]
        for field in headers { fields[field.name] = field.value }
        return (fields, body)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try WireJSONEncoder().encode(Body(error: code, error_description: errorDescription), from: request, context: context)
        response.status = status
        for field in headers { response.headers[field.name] = field.value }
        return response
    }

    /// The error a thrown value means for a client: our own kinds as they are, Hummingbird's
    /// HTTPErrors by status, anything else a 500.
    static func from(_ error: any Error) -> APIError? {
        switch error {
        case let error as APIError: return error
        case let error as SessionError: return APIError(error)
        case let error as HTTPError:
            switch error.status {
            case .notFound: return .notFound
            case .methodNotAllowed: return .methodNotAllowed
            case .contentTooLarge: return .payloadTooLarge
            case .unsupportedMediaType: return .unsupportedMediaType
            case .badRequest: return .invalidRequest("malformed request")
            case .unauthorized: return APIError(.invalidToken(tokenSent: false))
            default: return nil
            }
        default: return nil
        }
    }
}
