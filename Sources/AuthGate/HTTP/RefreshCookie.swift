// RefreshCookie: the refresh token's cookie, and the CSRF rules for requests it authenticates.
import Hummingbird
import HTTPTypes

enum RefreshCookie {
    static let name = "authgate_refresh"

    static func set(_ token: String, maxAge: Int) -> String {
        "\(name)=\(token); Max-Age=\(maxAge); HttpOnly; Secure; SameSite=Strict; Path=/auth"
    }

    static let clear = "\(name)=; Max-Age=0; HttpOnly; Secure; SameSite=Strict; Path=/auth"

    static func value(in request: Request) -> String? {
        guard let value = request.cookies[name]?.value, !value.isEmpty else { return nil }
        return value
    }

    /// A cookie-authenticated request must carry `X-Authgate-CSRF: 1` (a header a cross-site form
    /// cannot set) and, when it has an Origin, one we trust: our own or an allowlisted one.
    static func checkCSRF(_ request: Request, origins: OriginPolicy) throws(SessionError) {
        guard request.headers[csrfHeader] == "1" else {
            throw .accessDenied("cookie requests need the X-Authgate-CSRF: 1 header")
        }
        guard let origin = request.headers[.origin] else { return }
        guard origins.isAllowed(origin, request: request) else { throw .accessDenied("origin not allowed") }
    }

    static let csrfHeader = HTTPField.Name("X-Authgate-CSRF")!
}
