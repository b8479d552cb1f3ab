// BrowserNavigation: tells a person's browser loading a page from a script's fetch or XHR, so a
// proxy route with `sign_in_redirect` sends only the former to the sign-in page; scripts always
// get the plain 401 JSON they can act on.
import Hummingbird
import HTTPTypes

enum BrowserNavigation {
    /// GET or HEAD asking for HTML, without `X-Requested-With` (set by XHR libraries), and with
    /// `Sec-Fetch-Mode: navigate` or no fetch metadata at all (older browsers). A fetch() sends
    /// `cors`, `same-origin` or `no-cors` there, whatever its Accept says.
    static func isNavigation(_ request: Request) -> Bool {
        isNavigation(method: request.method.rawValue, headers: request.headers)
    }

    static func isNavigation(method: String, headers: HTTPFields) -> Bool {
        guard method == "GET" || method == "HEAD" else { return false }
        guard headers[requestedWith] == nil else { return false }
        if let mode = headers[fetchMode], mode.lowercased() != "navigate" { return false }
        return headers[values: .accept].contains { $0.lowercased().contains("text/html") }
    }

    /// For `/auth/verify` behind nginx `auth_request`: when the subrequest is for a browser
    /// navigation (nginx passes the client's headers, and the original request as
    /// `X-Original-Method` and `X-Original-URI`), where its 401 should send the browser. nginx
    /// cannot percent-encode, so the gateway builds the URL (deploy/nginx/authgate-sign-in-redirect.conf).
    static func verifySignInLocation(_ request: Request) -> String? {
        guard let uri = request.headers[originalURI], uri.hasPrefix("/"), !uri.hasPrefix("//") else { return nil }
        let method = request.headers[originalMethod] ?? request.method.rawValue
        guard isNavigation(method: method, headers: request.headers) else { return nil }
        return "/auth/login?rd=" + percentEncoded(uri)
    }

    /// 302 to the sign-in page, with `rd` the path and query the browser asked for (same origin,
    /// so it is followed after sign-in whatever `allowed-origins` says).
    static func signInRedirect(for request: Request) -> Response {
        Response(
            status: .found,
            headers: [
                .location: "/auth/login?rd=" + percentEncoded(request.uri.description),
                .cacheControl: "no-store",
                .vary: "Accept, Sec-Fetch-Mode, X-Requested-With",
            ])
    }

    /// Everything but RFC 3986 unreserved characters and `/` escaped, so the URL stays one query value.
    static func percentEncoded(_ text: String) -> String {
        PercentEncoding.encode(text) { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "/"):
                true
            default: false
            }
        }
    }

    /// On a 401 of /auth/verify: the sign-in URL for a browser navigation, for nginx to redirect to.
    static let signInHeader = HTTPField.Name("X-Authgate-Sign-In")!
    static let originalURI = HTTPField.Name("X-Original-URI")!
    static let originalMethod = HTTPField.Name("X-Original-Method")!
    static let requestedWith = HTTPField.Name("X-Requested-With")!
    static let fetchMode = HTTPField.Name("Sec-Fetch-Mode")!
}
