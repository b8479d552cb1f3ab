// ErrorMiddleware: whatever goes wrong, the client gets the contract's error shape; unexpected
// errors are logged with detail and answered 500 without it. Also sets the security headers on
// the gateway's own answers; a proxied answer keeps the upstream's headers as they are.
public import Hummingbird
import HTTPTypes
import Logging

public struct ErrorMiddleware: RouterMiddleware {
    public typealias Context = GatewayContext

    let routes: ProxyRouteTable

    public init(routes: [ProxyRoute] = []) { self.routes = ProxyRouteTable(routes) }

    public func handle(_ request: Request, context: GatewayContext, next: (Request, GatewayContext) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
            // An upstream's own answer (an app that may be framed, say): its headers, not ours.
            if !routes.isEmpty, routes.route(for: request.uri.path[...]) != nil { return response }
        } catch {
            let mapped: APIError
            if let known = APIError.from(error) {
                mapped = known
            } else {
                context.logger.error("unhandled error", metadata: ["error": "\(String(reflecting: type(of: error)))"])
                mapped = .serverError
            }
            response = try mapped.response(from: request, context: context)
        }
        Self.addSecurityHeaders(&response.headers)
        return response
    }

    /// The headers every answer of the gateway's own carries, errors included.
    static func addSecurityHeaders(_ headers: inout HTTPFields) {
        headers[.xContentTypeOptions] = "nosniff"
        // The sign-in page sets its own referrer policy (its form post needs a real Origin).
        if headers[referrerPolicy] == nil { headers[referrerPolicy] = "no-referrer" }
        headers[frameOptions] = "DENY"
    }

    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
    static let frameOptions = HTTPField.Name("X-Frame-Options")!
}
