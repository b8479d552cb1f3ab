// CORSMiddleware: cross-origin access with credentials for the origins in `allowed-origins`, by
// exact match, on every answer: the gateway's own, its errors and proxied ones; preflights are
// answered here, before authentication, the router or the proxy see them.
import Foundation
public import Hummingbird
import HTTPTypes

public struct CORSMiddleware: RouterMiddleware {
    public typealias Context = GatewayContext
    let origins: OriginPolicy

    public init(origins: OriginPolicy) { self.origins = origins }

    /// The gateway's own methods plus what a proxied API may take.
    static let allowMethods = "GET, HEAD, POST, PUT, PATCH, DELETE"
    /// The contract's list: the bearer token, JSON bodies, the cookie-refresh CSRF header.
    static let allowHeaders = "Authorization, Content-Type, X-Authgate-CSRF"
    /// Non-safelisted headers a page needs: the id to quote in a support request, the 401
    /// challenge, and how long a 429 or 503 asks it to wait.
    static let exposeHeaders = "Retry-After, WWW-Authenticate, X-Request-Id"
    /// Ten minutes: Chromium caps any longer value at two hours, and a changed setting should
    /// reach open tabs soon.
    static let maxAge = "600"

    public func handle(_ request: Request, context: GatewayContext, next: (Request, GatewayContext) async throws -> Response) async throws -> Response {
        let allowed = request.headers[.origin].flatMap { origins.isListed($0) ? $0 : nil }
        if let allowed, request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            return Self.preflight(origin: allowed)
        }
        var response = try await next(request, context)
        Self.decorate(&response.headers, allowedOrigin: allowed)
        return response
    }

    /// An answer's CORS headers: the gateway decides cross-origin access for everything it
    /// serves, so an upstream's own would contradict it (two Allow-Origin values fail in every
    /// browser); `allowedOrigin` is the request's Origin when it is listed.
    static func decorate(_ headers: inout HTTPFields, allowedOrigin allowed: String?) {
        for name in responseHeaders where headers[name] != nil { headers[name] = nil }
        addVaryOrigin(&headers)
        if let allowed {
            headers[.accessControlAllowOrigin] = allowed
            headers[.accessControlAllowCredentials] = "true"
            headers[.accessControlExposeHeaders] = exposeHeaders
        }
    }

    static func preflight(origin: String) -> Response {
        Response(
            status: .noContent,
            headers: [
                .accessControlAllowOrigin: origin,
                .accessControlAllowCredentials: "true",
                .accessControlAllowMethods: allowMethods,
                .accessControlAllowHeaders: allowHeaders,
                .accessControlMaxAge: maxAge,
                .vary: "Origin",
            ])
    }

    /// Every answer varies by Origin, including those without CORS headers: a cache must not hand
    /// a page's fetch the copy it stored for a navigation or another origin (Fetch §3.2.5).
    static func addVaryOrigin(_ headers: inout HTTPFields) {
        let present = headers[values: .vary].contains { value in
            value.split(separator: ",").contains { token in
                let name = token.trimmingCharacters(in: .whitespaces).lowercased()
                return name == "origin" || name == "*"
            }
        }
        if !present { headers.append(HTTPField(name: .vary, value: "Origin")) }
    }

    static let responseHeaders: [HTTPField.Name] = [
        .accessControlAllowOrigin, .accessControlAllowCredentials, .accessControlAllowMethods, .accessControlAllowHeaders,
        .accessControlExposeHeaders, .accessControlMaxAge,
    ]
}
