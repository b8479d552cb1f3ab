// SinglePageAppTests: what a browser app relies on, at the HTTP level: CORS for allowed origins
// only (errors, preflights and proxied paths included), the sign-in and sign-out pages and their
// form posts, the `rd` rules, login CSRF, and browser navigations on an opted-in proxy route.
@testable import AuthGate
import AuthGateTesting
import Foundation
import Hummingbird
import HTTPTypes
import Testing

/// One request on its own connection, headers exactly as given; redirects are not followed.
func raw(_ port: Int, _ method: String, _ target: String, _ headers: [HeaderLine] = [], body: String = "") async throws -> RawHTTPResponse {
    try await RawHTTPConnection.with(port: port) { connection in
        try await connection.send(method, target, headers: headers, body: Array(body.utf8))
    }
}

/// A form body, each value percent-encoded.
func formBody(_ fields: [(String, String)]) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    return fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&")
}

let appOrigin = "https://app.example"

extension RawHTTPResponse {
    var errorCode: String? { json["error"] as? String }
}

@Suite struct SinglePageAppTests {
    static let corsNames = [
        "Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers",
        "Access-Control-Expose-Headers", "Access-Control-Max-Age",
    ]

    /// The page's sign-in post, from the gateway's own origin unless told otherwise.
    func signInPost(_ gateway: TestGateway, _ username: String, _ password: String, rd: String? = nil, origin: String? = nil) async throws -> RawHTTPResponse {
        var fields = [("page", "sign-in"), ("username", username), ("password", password)]
        if let rd { fields.append(("rd", rd)) }
        return try await raw(
            gateway.port, "POST", "/auth/login",
            [HeaderLine("Content-Type", "application/x-www-form-urlencoded"), HeaderLine("Origin", origin ?? "http://127.0.0.1:\(gateway.port)")],
            body: formBody(fields))
    }

    /// The text of the page's alert, or nil.
    func alert(_ html: String) -> String? {
        guard let start = html.range(of: #"role="alert">"#), let end = html.range(of: "</p>", range: start.upperBound..<html.endIndex) else { return nil }
        return String(html[start.upperBound..<end.lowerBound])
    }

    // MARK: CORS

    @Test func allowedOriginGetsCredentialedCORSOnAnswersAndErrors() async throws {
        try await withGateway(.sqlite, configure: { $0.allowedOrigins = [appOrigin] }) { gateway in
            let origin = HeaderLine("Origin", appOrigin)
            let json = HeaderLine("Content-Type", "application/json")
            let signedIn = try await raw(gateway.port, "POST", "/auth/login", [origin, json], body: #"{"username":"alice","password":"correct-horse-1"}"#)
            let unauthorized = try await raw(gateway.port, "GET", "/auth/me", [origin])
            let notFound = try await raw(gateway.port, "GET", "/nowhere", [origin])
            let wrong = try await raw(gateway.port, "POST", "/auth/login", [origin, json], body: #"{"username":"alice","password":"nope"}"#)
            #expect(signedIn.status == 200 && unauthorized.status == 401 && notFound.status == 404 && wrong.status == 401)
            for answer in [signedIn, unauthorized, notFound, wrong] {
                #expect(answer.headers(named: "Access-Control-Allow-Origin") == [appOrigin], "\(answer.status)")
                #expect(answer.headers(named: "Access-Control-Allow-Credentials") == ["true"])
                #expect(answer.header("Access-Control-Expose-Headers") == "Retry-After, WWW-Authenticate, X-Request-Id")
                #expect(answer.headers(named: "Vary").contains("Origin"))
                #expect(!answer.headers.contains { $0.value == "*" })
                // Preflight-only headers stay on preflights.
                #expect(answer.header("Access-Control-Allow-Methods") == nil && answer.header("Access-Control-Max-Age") == nil)
                #expect(answer.header("X-Request-Id") != nil)
            }
            // The page can read the error it got.
            #expect(unauthorized.json["error"] as? String == "invalid_token" && unauthorized.header("WWW-Authenticate") != nil)
        }
    }

    @Test func otherOriginsGetNoCORSHeaderAtAll() async throws {
        try await withGateway(.sqlite, configure: { $0.allowedOrigins = [appOrigin] }) { gateway in
            for origin in ["https://evil.example", "https://app.example.evil.com", "http://app.example", "null", "https://APP.example.", "*"] {
                let plain = try await raw(gateway.port, "GET", "/auth/me", [HeaderLine("Origin", origin)])
                let preflight = try await raw(
                    gateway.port, "OPTIONS", "/auth/refresh",
                    [HeaderLine("Origin", origin), HeaderLine("Access-Control-Request-Method", "POST"), HeaderLine("Access-Control-Request-Headers", "x-authgate-csrf")])
                for answer in [plain, preflight] {
                    for name in Self.corsNames { #expect(answer.header(name) == nil, "\(origin): \(name) on \(answer.status)") }
                    #expect(answer.headers(named: "Vary").contains("Origin"), "\(origin)")
                }
                #expect(preflight.status != 204, "\(origin): a refused preflight looks like success")
            }
            // No Origin (a same-origin GET, curl): no CORS header, still Vary: Origin for caches.
            let none = try await raw(gateway.port, "GET", "/healthz")
            #expect(none.header("Access-Control-Allow-Origin") == nil && none.headers(named: "Vary").contains("Origin"))
        }
    }

    @Test func preflightIsAnsweredWithTheExactHeadersAlsoForProxiedPaths() async throws {
        try await withProxy(routes: { #"[{"prefix":"/api","upstream":"\#($0.baseURL)"}]"# }, configure: { $0.allowedOrigins = [appOrigin] }) { gateway, echo in
            for path in ["/auth/refresh", "/auth/sessions/abc", "/api/orders/7", "/nowhere"] {
                let preflight = try await raw(
                    gateway.port, "OPTIONS", path,
                    [HeaderLine("Origin", appOrigin), HeaderLine("Access-Control-Request-Method", "DELETE"),
                     HeaderLine("Access-Control-Request-Headers", "authorization,content-type,x-authgate-csrf")])
                #expect(preflight.status == 204, "\(path): \(preflight.status) \(preflight.text)")
                #expect(preflight.headers(named: "Access-Control-Allow-Origin") == [appOrigin])
                #expect(preflight.headers(named: "Access-Control-Allow-Credentials") == ["true"])
                #expect(preflight.header("Access-Control-Allow-Methods") == "GET, HEAD, POST, PUT, PATCH, DELETE")
                #expect(preflight.header("Access-Control-Allow-Headers") == "Authorization, Content-Type, X-Authgate-CSRF")
                #expect(preflight.header("Access-Control-Max-Age") == "600")
                #expect(preflight.headers(named: "Vary") == ["Origin"])
                #expect(preflight.header("X-Request-Id") != nil && preflight.bodySize == 0)
            }
            #expect(echo.requests.isEmpty, "a preflight reached the upstream")
            // A plain OPTIONS (no preflight) on a proxied path is an API call: it needs a token.
            let plainOptions = try await raw(gateway.port, "OPTIONS", "/api/x", [HeaderLine("Origin", appOrigin)])
            #expect(plainOptions.status == 401 && plainOptions.header("Access-Control-Allow-Origin") == appOrigin)
            // Proxied answers carry the gateway's CORS headers, the 401 of a missing token too.
            let token = try await accessToken(gateway)
            let proxied = try await raw(gateway.port, "GET", "/api/x", [HeaderLine("Origin", appOrigin), HeaderLine("Authorization", "Bearer \(token)")])
            #expect(proxied.status == 200 && proxied.headers(named: "Access-Control-Allow-Origin") == [appOrigin])
            let refused = try await raw(gateway.port, "GET", "/api/x", [HeaderLine("Origin", appOrigin)])
            #expect(refused.status == 401 && refused.headers(named: "Access-Control-Allow-Origin") == [appOrigin] && refused.errorCode == "invalid_token")
        }
    }

    @Test func allowedOriginsMustBeOrigins() async throws {
        let config = try await GatewayConfig.load(flags: [:], environment: ["AUTHGATE_ALLOWED_ORIGINS": "https://App.Example:443/, http://localhost:8000"], file: nil)
        #expect(config.allowedOrigins == ["https://app.example", "http://localhost:8000"])
        for bad in ["*", "null", "app.example", "https://app.example/path", "https://user@app.example", "ftp://app.example", "https://app.example:99999"] {
            await #expect(throws: ConfigError.self, "\(bad)") {
                _ = try await GatewayConfig.load(flags: [:], environment: ["AUTHGATE_ALLOWED_ORIGINS": bad], file: nil)
            }
        }
    }

    // MARK: Login CSRF

    @Test func loginFromAForeignOriginIsRefused() async throws {
        try await withGateway(.sqlite, configure: { $0.allowedOrigins = [appOrigin] }) { gateway in
            let body = #"{"username":"alice","password":"correct-horse-1"}"#
            func jsonLogin(_ origin: String?) async throws -> RawHTTPResponse {
                var headers = [HeaderLine("Content-Type", "application/json")]
                if let origin { headers.append(HeaderLine("Origin", origin)) }
                return try await raw(gateway.port, "POST", "/auth/login", headers, body: body)
            }
            let foreign = try await jsonLogin("https://evil.example")
            #expect(foreign.status == 403 && foreign.errorCode == "access_denied" && foreign.header("Set-Cookie") == nil)
            let foreignForm = try await raw(
                gateway.port, "POST", "/auth/login", [HeaderLine("Content-Type", "application/x-www-form-urlencoded"), HeaderLine("Origin", "https://evil.example")],
                body: "username=alice&password=correct-horse-1")
            #expect(foreignForm.status == 403 && foreignForm.errorCode == "access_denied")
            // A cross-site form can also post text/plain: still refused for its origin, not its type.
            let foreignText = try await raw(
                gateway.port, "POST", "/auth/login", [HeaderLine("Content-Type", "text/plain"), HeaderLine("Origin", "https://evil.example")], body: body)
            #expect(foreignText.status == 403 && foreignText.errorCode == "access_denied")
            #expect(try await jsonLogin(appOrigin).status == 200)
            #expect(try await jsonLogin("http://127.0.0.1:\(gateway.port)").status == 200)
            #expect(try await jsonLogin(nil).status == 200)
            // The page's own post from a foreign origin: the page again, 403, no cookie.
            let page = try await signInPost(gateway, "alice", "correct-horse-1", origin: "https://evil.example")
            #expect(page.status == 403 && page.header("Content-Type")?.hasPrefix("text/html") == true && page.header("Set-Cookie") == nil)
        }
    }

    // MARK: The sign-in page

    @Test func signInPageIsStrictAccessibleAndEscapesWhatItShows() async throws {
        try await withGateway(.sqlite, configure: { $0.allowedOrigins = [appOrigin] }) { gateway in
            let page = try await raw(gateway.port, "GET", "/auth/login?rd=%2Fapp%3Fx%3D1", [HeaderLine("Accept", "text/html,application/xhtml+xml")])
            #expect(page.status == 200)
            #expect(page.header("Content-Type") == "text/html; charset=utf-8")
            #expect(page.header("Cache-Control") == "no-store")
            #expect(page.header("X-Frame-Options") == "DENY" && page.header("X-Content-Type-Options") == "nosniff")
            // Not no-referrer: that would make browsers send `Origin: null` with the form post.
            #expect(page.header("Referrer-Policy") == "same-origin")
            let csp = try #require(page.header("Content-Security-Policy"))
            let directives = Dictionary(
                uniqueKeysWithValues: csp.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.map { directive in
                    let parts = directive.split(separator: " ", maxSplits: 1)
                    return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
                })
            #expect(directives["default-src"] == "'none'" && directives["frame-ancestors"] == "'none'" && directives["base-uri"] == "'none'")
            #expect(directives["form-action"] == "'self' \(appOrigin)")
            #expect(!csp.contains("unsafe") && directives["script-src"] == nil)
            // The style-src hash is the hash of the page's one stylesheet.
            let html = page.text
            let style = try #require(html.firstRange(of: "<style>").flatMap { open in
                html.range(of: "</style>", range: open.upperBound..<html.endIndex).map { String(html[open.upperBound..<$0.lowerBound]) }
            })
            #expect(directives["style-src"] == "'sha256-\(Data(Sodium.sha256(Array(style.utf8))).base64EncodedString())'")
            // Accessible: language, labels tied to fields, autocomplete, a real submit button.
            for marker in [
                #"<html lang="en">"#, #"<label for="username">"#, #"<label for="password">"#, #"id="username" name="username""#,
                #"autocomplete="username""#, #"autocomplete="current-password""#, #"type="password""#, #"<button type="submit">"#,
                #"<form method="post" action="/auth/login">"#, #"name="page" value="sign-in""#, #"name="rd" value="/app?x=1""#, ":focus-visible{outline:3px",
            ] {
                #expect(html.contains(marker), "missing \(marker)")
            }
            // Nothing external, nothing to run, no inline style attribute (the hash does not cover those).
            for forbidden in ["<script", " style=", "src=", "href=", "http://", "https://"] {
                #expect(!html.contains(forbidden), "the page contains \(forbidden)")
            }

            // Every interpolated value is escaped: rd and the username the page keeps.
            let hostile = #""><script>alert(1)</script>'"#
            let echoed = try await raw(gateway.port, "GET", "/auth/login?rd=" + BrowserNavigation.percentEncoded(hostile), [HeaderLine("Accept", "text/html")])
            #expect(!echoed.text.contains("<script>") && echoed.text.contains("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&#39;"))
            let failed = try await signInPost(gateway, hostile, "whatever")
            #expect(failed.status == 401 && !failed.text.contains("<script>") && failed.text.contains(#"value="&quot;&gt;&lt;script&gt;"#))
            #expect(!failed.text.contains("whatever"), "the password came back in the page")
        }
    }

    @Test func signInFormSetsTheCookieAndRedirectsOnlyToSafeTargets() async throws {
        try await withGateway(.sqlite, configure: { $0.allowedOrigins = [appOrigin] }) { gateway in
            let own = "http://127.0.0.1:\(gateway.port)"
            let cases: [(rd: String?, location: String)] = [
                ("https://app.example/dashboard?tab=1", "https://app.example/dashboard?tab=1"),
                ("/app/page?x=1", "/app/page?x=1"),
                ("\(own)/somewhere", "\(own)/somewhere"),
                (nil, "/"),
                ("https://evil.example/", "/"),
                ("//evil.example", "/"),
            ]
            for (rd, location) in cases {
                let answer = try await signInPost(gateway, "alice", "correct-horse-1", rd: rd)
                #expect(answer.status == 303 && answer.header("Location") == location, "rd \(rd ?? "nil"): \(answer.status) \(answer.header("Location") ?? "")")
                let cookie = try #require(answer.header("Set-Cookie"), "rd \(rd ?? "nil")")
                #expect(cookie.hasPrefix("authgate_refresh=") && cookie.contains("HttpOnly") && cookie.contains("Secure") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/auth"))
                #expect(answer.header("Cache-Control") == "no-store" && answer.bodySize == 0)
            }
            // The cookie it set refreshes like any other (what the app does next).
            let signedIn = try await signInPost(gateway, "alice", "correct-horse-1", rd: "/")
            let token = try #require(signedIn.header("Set-Cookie").flatMap(refreshCookieValue))
            let refreshed = try await gateway.client.send("POST", "/auth/refresh", headers: ["Cookie": "authgate_refresh=\(token)", "X-Authgate-CSRF": "1"])
            #expect(refreshed.status == 200 && refreshed.json["access_token"] is String && refreshed.json["refresh_token"] == nil)
        }
    }

    @Test(arguments: [
        "//evil.example", "//evil.example/path", "///evil.example", "https://app.example.evil.com", "https://app.example.evil.com/x",
        "https://evil.example#https://app.example", "https://app.example@evil.example/", "https://app.example:@evil.example",
        "javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,x", "/\\evil.example", "\\\\evil.example", "https:\\\\evil.example",
        "https:/\\evil.example", "https:evil.example", "https:/evil.example", "http://app.example", "https://app.example:8443",
        " /ok", "/ok\r\nSet-Cookie: a=b", "/ok\t", "https://app.exam%70le", "https://ápp.example", "evil.example", "", "https://",
        "https://[::1", "https://app.example%2F@evil.example",
    ])
    func redirectTargetRefusesWhatABrowserCouldReadAsAnotherSite(_ rd: String) {
        let request = Request(head: HTTPRequest(method: .post, scheme: "http", authority: "gw.example", path: "/auth/login"), body: .init(buffer: ByteBuffer()))
        let origins = OriginPolicy(allowedOrigins: [appOrigin])
        #expect(RedirectTarget.resolve(rd, request: request, origins: origins) == "/", "\(rd.debugDescription) was followed")
    }

    @Test(arguments: [
        "/", "/app", "/app/page?x=1&y=%2F#frag", "https://app.example", "https://app.example/", "https://APP.example/x", "https://app.example:443/x",
        "https://app.example?x", "http://gw.example/home", "https://gw.example/home",
    ])
    func redirectTargetFollowsOwnAndAllowedOrigins(_ rd: String) {
        let request = Request(head: HTTPRequest(method: .post, scheme: "http", authority: "gw.example", path: "/auth/login"), body: .init(buffer: ByteBuffer()))
        let origins = OriginPolicy(allowedOrigins: [appOrigin])
        #expect(RedirectTarget.resolve(rd, request: request, origins: origins) == rd)
    }

    @Test func failedSignInShowsOneMessageForUnknownUserAndWrongPasswordThenRateLimits() async throws {
        try await withGateway(.sqlite, configure: { $0.loginMaxFailures = 3 }) { gateway in
            let unknown = try await signInPost(gateway, "nobody", "wrong-password", rd: "/app")
            let wrong = try await signInPost(gateway, "alice", "wrong-password", rd: "/app")
            // A form post that is not the page's keeps the contract's JSON.
            let script = try await raw(
                gateway.port, "POST", "/auth/login", [HeaderLine("Content-Type", "application/x-www-form-urlencoded")], body: "username=nobody&password=x")
            #expect(script.status == 401 && script.errorCode == "invalid_grant" && script.header("Content-Type") == "application/json")
            #expect(unknown.status == 401 && wrong.status == 401)
            #expect(alert(unknown.text) == SignInPage.wrongCredentials && alert(wrong.text) == alert(unknown.text))
            // The same page but for the username it keeps.
            #expect(unknown.text.replacingOccurrences(of: "nobody", with: "alice") == wrong.text)
            for answer in [unknown, wrong] {
                #expect(answer.header("Content-Type") == "text/html; charset=utf-8" && answer.header("Set-Cookie") == nil)
                #expect(answer.text.contains(#"aria-invalid="true" aria-describedby="notice""#) && answer.text.contains("<title>Error: Sign in"))
                #expect(answer.text.contains(#"name="rd" value="/app""#))
            }
            let limited = try await signInPost(gateway, "alice", "correct-horse-1")
            #expect(limited.status == 429 && Int(limited.header("Retry-After") ?? "") ?? 0 > 0)
            #expect(alert(limited.text)?.hasPrefix("Too many failed sign-in attempts. Please try again in ") == true)
            let missing = try await signInPost(gateway, "", "")
            #expect(missing.status == 400 && alert(missing.text) == SignInPage.missingFields)
        }
    }

    @Test func signInPageSaysSoWhenTheProviderIsDown() async throws {
        try await withShotGridGateway(.sqlite) { gateway, fake in
            await fake.stop()
            let answer = try await signInPost(gateway, "alice", "wonderland-pass")
            #expect(answer.status == 503 && answer.header("Retry-After") == "1" && alert(answer.text) == SignInPage.unavailable)
        }
    }

    @Test func signOutPagePostsAFormThatEndsTheSessionAndClearsTheCookie() async throws {
        try await withGateway(.sqlite) { gateway in
            let page = try await raw(gateway.port, "GET", "/auth/logout", [HeaderLine("Accept", "text/html")])
            #expect(page.status == 200 && page.header("Content-Security-Policy")?.contains("default-src 'none'") == true)
            #expect(page.text.contains(#"<form method="post" action="/auth/logout">"#) && page.text.contains(#"name="page" value="sign-out""#))
            let token = try #require(try await signInPost(gateway, "alice", "correct-horse-1").header("Set-Cookie").flatMap(refreshCookieValue))
            let form = HeaderLine("Content-Type", "application/x-www-form-urlencoded"), cookie = HeaderLine("Cookie", "authgate_refresh=\(token)")
            // A form cannot send X-Authgate-CSRF, so the Origin must be there and ours.
            let noOrigin = try await raw(gateway.port, "POST", "/auth/logout", [form, cookie], body: "page=sign-out")
            let foreign = try await raw(gateway.port, "POST", "/auth/logout", [form, cookie, HeaderLine("Origin", "https://evil.example")], body: "page=sign-out")
            #expect(noOrigin.status == 403 && foreign.status == 403 && noOrigin.header("Set-Cookie") == nil)
            let signedOut = try await raw(
                gateway.port, "POST", "/auth/logout", [form, cookie, HeaderLine("Origin", "http://127.0.0.1:\(gateway.port)")], body: "page=sign-out")
            #expect(signedOut.status == 303 && signedOut.header("Location") == "/auth/login?signed_out=1")
            #expect(signedOut.header("Set-Cookie") == RefreshCookie.clear)
            #expect(try await gateway.client.postJSON("/auth/refresh", ["refresh_token": token]).status == 401)
            let after = try await raw(gateway.port, "GET", "/auth/login?signed_out=1")
            #expect(after.text.contains(#"role="status">You have signed out."#))
        }
    }

    /// nginx's sign-in recipe: /auth/verify's 401 names the sign-in URL for a browser navigation
    /// only, built from X-Original-URI (percent-encoded: nginx cannot).
    @Test func verifyGivesNginxTheSignInURLForBrowserNavigationsOnly() async throws {
        try await withGateway(.sqlite) { gateway in
            let subrequest = [
                HeaderLine("X-Original-URI", "/app/report?x=1&y=a b"), HeaderLine("X-Original-Method", "GET"),
                HeaderLine("Accept", "text/html,*/*;q=0.8"),
            ]
            let navigation = try await raw(gateway.port, "GET", "/auth/verify", subrequest + [HeaderLine("Sec-Fetch-Mode", "navigate")])
            #expect(navigation.status == 401 && navigation.errorCode == "invalid_token")
            #expect(navigation.header("X-Authgate-Sign-In") == "/auth/login?rd=/app/report%3Fx%3D1%26y%3Da%20b")
            let badToken = try await raw(gateway.port, "GET", "/auth/verify", subrequest + [HeaderLine("Authorization", "Bearer x.y.z")])
            #expect(badToken.status == 401 && badToken.header("X-Authgate-Sign-In") != nil)
            let others: [(String, [HeaderLine])] = [
                ("fetch", subrequest + [HeaderLine("Sec-Fetch-Mode", "cors")]),
                ("post", [subrequest[0], HeaderLine("X-Original-Method", "POST"), subrequest[2]]),
                ("no original URI", Array(subrequest.dropFirst())),
                ("scheme-relative URI", [HeaderLine("X-Original-URI", "//evil.example/")] + subrequest.dropFirst()),
                ("JSON client", subrequest.dropLast() + [HeaderLine("Accept", "application/json")]),
            ]
            for (label, headers) in others {
                let answer = try await raw(gateway.port, "GET", "/auth/verify", headers)
                #expect(answer.status == 401 && answer.header("X-Authgate-Sign-In") == nil, "\(label)")
            }
            let token = try await accessToken(gateway)
            let valid = try await raw(gateway.port, "GET", "/auth/verify", subrequest + [HeaderLine("Authorization", "Bearer \(token)")])
            #expect(valid.status == 200 && valid.header("X-Authgate-Login") == "alice" && valid.header("X-Authgate-Sign-In") == nil)
        }
    }

    // MARK: Browser navigations on the proxy

    @Test func navigationOnAnOptedInRouteGoesToSignInWhileScriptsGet401() async throws {
        try await withProxy(routes: { echo in
            #"[{"prefix":"/web","upstream":"\#(echo.baseURL)","sign_in_redirect":true},{"prefix":"/api","upstream":"\#(echo.baseURL)"}]"#
        }) { gateway, echo in
            let html = HeaderLine("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
            let navigate = HeaderLine("Sec-Fetch-Mode", "navigate")
            let page = try await raw(gateway.port, "GET", "/web/reports/7?x=1&y=a%20b", [html, navigate])
            #expect(page.status == 302 && page.header("Location") == "/auth/login?rd=/web/reports/7%3Fx%3D1%26y%3Da%2520b")
            #expect(page.header("Cache-Control") == "no-store")
            // Browsers without fetch metadata navigate too; a bad token is no token.
            #expect(try await raw(gateway.port, "GET", "/web/x", [html]).status == 302)
            #expect(try await raw(gateway.port, "GET", "/web/x", [html, navigate, HeaderLine("Authorization", "Bearer not.a.jwt")]).status == 302)
            #expect(try await raw(gateway.port, "HEAD", "/web/x", [html, navigate]).status == 302)
            // Scripts and non-HTML clients get the 401 JSON.
            let scripted: [(String, String, [HeaderLine])] = [
                ("fetch", "GET", [html, HeaderLine("Sec-Fetch-Mode", "cors")]),
                ("same-origin fetch", "GET", [html, HeaderLine("Sec-Fetch-Mode", "same-origin")]),
                ("XHR library", "GET", [html, navigate, HeaderLine("X-Requested-With", "XMLHttpRequest")]),
                ("JSON client", "GET", [HeaderLine("Accept", "application/json")]),
                ("no Accept", "GET", []),
                ("form post", "POST", [html, navigate]),
            ]
            for (label, method, headers) in scripted {
                let answer = try await raw(gateway.port, method, "/web/x", headers)
                #expect(answer.status == 401 && answer.errorCode == "invalid_token", "\(label): \(answer.status)")
            }
            // A route without the option never redirects.
            let api = try await raw(gateway.port, "GET", "/api/x", [html, navigate])
            #expect(api.status == 401 && api.errorCode == "invalid_token")
            #expect(echo.requests.isEmpty, "a refused request reached the upstream")
            // With a valid token the navigation is proxied as usual.
            let token = try await accessToken(gateway)
            #expect(try await raw(gateway.port, "GET", "/web/x", [html, navigate, HeaderLine("Authorization", "Bearer \(token)")]).status == 200)
        }
    }
}
