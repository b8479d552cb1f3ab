// ErrorMiddleware: whatever goes wrong, the client gets the contract's error shape; unexpected
// errors are logged with detail and answered 500 without it. Also sets the security headers.
public import Hummingbird
import HTTPTypes
import Logging

public struct ErrorMiddleware: RouterMiddleware {
    public typealias Context = GatewayContext

    public init() {}

    public func handle(_ request: Request, context: GatewayContext, next: (Request, GatewayContext) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as GatewayError {
            response = try error.response(from: request, context: context)
        } catch let error as HTTPError {
            let mapped: GatewayError =
                switch error.status {
                case .notFound: .notFound
                case .methodNotAllowed: .methodNotAllowed
                case .contentTooLarge: .payloadTooLarge
                case .unsupportedMediaType: .unsupportedMediaType
                case .badRequest: .invalidRequest("malformed request")
                case .unauthorized: .invalidToken(tokenSent: false)
                default: .serverError
                }
            if case .serverError = mapped { context.logger.error("unexpected HTTP error", metadata: ["error": "\(error)"]) }
            response = try mapped.response(from: request, context: context)
        } catch {
            context.logger.error("unhandled error", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            response = try GatewayError.serverError.response(from: request, context: context)
        }
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.init("Referrer-Policy")!] = "no-referrer"
        response.headers[.init("X-Frame-Options")!] = "DENY"
        return response
    }
}
