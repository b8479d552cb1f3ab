// ProxyTests: the reverse proxy's `kind: http` routes against a real upstream (EchoUpstream,
// which records what it receives): identity in, spoofs and hop-by-hop headers out, the three
// Authorization modes, refusals that never reach the upstream, and upstream failures.
@testable import AuthGate
import AuthGateTesting
import Foundation
import Testing

/// The usual route: `/api` to the EchoUpstream, every setting at its default.
func apiRoute(_ echo: EchoUpstream) -> String { #"[{"prefix":"/api","upstream":"\#(echo.baseURL)"}]"# }

/// A gateway (local user alice) with `routes` in front of a fresh EchoUpstream.
func withProxy(
    _ kind: TestStoreKind = .sqlite, routes: (EchoUpstream) -> String, configure: (inout GatewayConfig) -> Void = { _ in },
    _ body: (TestGateway, EchoUpstream) async throws -> Void
) async throws {
    let echo = EchoUpstream()
    try await echo.start()
    try await finally({
        let json = routes(echo)
        let parsed = try RouteSettings.load(text: json, source: "test", fileValue: nil, defaultTimeout: 5, shotgridURL: nil)
        try await withGateway(kind, configure: { config in
            config.routes = parsed
            configure(&config)
        }) { gateway in try await body(gateway, echo) }
    }, { await echo.stop() })
}

func accessToken(_ gateway: TestGateway, _ username: String = "alice", _ password: String = "correct-horse-1") async throws -> String {
    let signedIn = try await login(gateway, username, password)
    return try #require(signedIn.json["access_token"] as? String, "login: \(signedIn.status) \(signedIn.text)")
}

/// How a proxied request reaches the upstream: the channel-level proxy takes it, unless it is
/// pipelined behind a request the router is answering, when ProxyMiddleware does (AsyncHTTPClient).
enum ProxyPathTaken: String, CaseIterable, Sendable {
    case channel, router

    func send(_ connection: RawHTTPConnection, _ method: String, _ target: String, headers: [HeaderLine], body: [UInt8] = []) async throws -> RawHTTPResponse {
        switch self {
        case .channel: try await connection.send(method, target, headers: headers, body: body)
        case .router: try await connection.sendPipelined(behind: "GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n", method, target, headers: headers, body: body)
        }
    }
}

@Suite struct ProxyTests {
    @Test(arguments: ProxyPathTaken.allCases)
    func identityArrivesAndSpoofsHopByHopAndTheRefreshCookieDoNot(_ taken: ProxyPathTaken) async throws {
        try await withProxy(routes: { #"[{"prefix":"/api","upstream":"\#($0.baseURL)/base"}]"# }) { gateway, echo in
            let token = try await accessToken(gateway)
            let answer = try await RawHTTPConnection.with(port: gateway.port) { connection in
                try await taken.send(connection, "PATCH", "/api/orders/7?expand=lines&x=%2F", headers: [
                    HeaderLine("Host", "gw.example"),
                    HeaderLine("Authorization", "Bearer \(token)"),
                    HeaderLine("x-authgate-login", "mallory"), HeaderLine("X-AUTHGATE-USER-ID", "0"), HeaderLine("X-Authgate-Role", "admin"),
                    HeaderLine("Connection", "keep-alive, X-Private-Hop"), HeaderLine("X-Private-Hop", "1"), HeaderLine("Keep-Alive", "timeout=5"),
                    HeaderLine("Proxy-Connection", "keep-alive"), HeaderLine("TE", "trailers"), HeaderLine("Upgrade", "websocket"),
                    HeaderLine("Cookie", "theme=dark; authgate_refresh=SECRET-REFRESH; lang=en"),
                    HeaderLine("X-Forwarded-For", "198.51.100.7"), HeaderLine("X-Forwarded-Proto", "https"),
                    HeaderLine("Content-Type", "application/json"), HeaderLine("X-Trace", "t-1"),
                ], body: Array(#"{"qty":2}"#.utf8))
            }
            #expect(answer.status == 200, "\(answer.status) \(answer.text)")
            let seen = try #require(echo.lastRequest)
            #expect(seen.method == "PATCH" && seen.path == "/base/orders/7" && seen.query == "expand=lines&x=%2F")
            #expect(seen.bodySize == 9 && seen.bodyComplete)
            for (name, value) in [("X-Authgate-User-Id", "user-alice"), ("X-Authgate-Login", "alice"), ("X-Authgate-Email", "alice@example.com"), ("X-Authgate-Name", "Alice A")] {
                #expect(seen.headers(named: name) == [value], "\(name): \(seen.headers(named: name))")
            }
            #expect(seen.headers(named: "X-Authgate-Session").count == 1 && seen.header("X-Authgate-Role") == nil)
            for hop in ["Connection", "X-Private-Hop", "Keep-Alive", "Proxy-Connection", "TE", "Upgrade", "Transfer-Encoding"] {
                #expect(seen.header(hop) == nil, "\(hop) reached the upstream")
            }
            #expect(seen.headers(named: "Cookie") == ["theme=dark; lang=en"])
            #expect(seen.header("Authorization") == nil)  // drop is the default
            #expect(seen.header("Host") == "127.0.0.1:\(echo.port)")
            #expect(seen.header("X-Forwarded-For") == "198.51.100.7, 127.0.0.1")
            // The peer is no trusted proxy: its claim of https is replaced with what it used.
            #expect(seen.header("X-Forwarded-Proto") == "http" && seen.header("X-Forwarded-Host") == "gw.example")
            #expect(seen.header("X-Trace") == "t-1" && seen.header("Content-Type") == "application/json")
        }
    }

    /// The gateway's own security headers are for its own answers: an upstream's answer keeps
    /// its headers as they are (an app that may be framed stays framable), a refusal gets them.
    @Test func proxiedAnswersKeepTheUpstreamsHeadersAndRefusalsGetTheGateways() async throws {
        try await withProxy(routes: apiRoute) { gateway, _ in
            let token = try await accessToken(gateway)
            let proxied = try await gateway.client.get("/api/x", bearer: token)
            #expect(proxied.status == 200 && proxied.header("X-Frame-Options") == nil && proxied.header("X-Content-Type-Options") == nil)
            let refused = try await gateway.client.get("/api/x")
            #expect(refused.status == 401 && refused.header("X-Frame-Options") == "DENY")
        }
    }

    @Test(arguments: ProxyPathTaken.allCases)
    func upstreamAnswerLosesItsHopByHopHeadersOnly(_ taken: ProxyPathTaken) async throws {
        try await withProxy(routes: apiRoute) { gateway, echo in
            let token = try await accessToken(gateway)
            let answer = try await RawHTTPConnection.with(port: gateway.port) { connection in
                try await taken.send(connection, "GET", "/api/headers", headers: [HeaderLine("Authorization", "Bearer \(token)")])
            }
            #expect(answer.status == 200)
            for (name, _) in EchoUpstream.hopByHopAndKeptHeaders where name.lowercased().hasPrefix("x-keep") || name == "Set-Cookie" {
                #expect(answer.header(name) != nil, "\(name) was dropped")
            }
            #expect(answer.headers(named: "Set-Cookie").count == 2)
            for hop in ["X-Drop-Me", "Keep-Alive", "Proxy-Connection", "Trailer", "Upgrade"] {
                #expect(answer.header(hop) == nil, "\(hop) reached the client")
            }
        }
    }

    @Test(.enabled(if: TestPython.isAvailable, Comment(rawValue: TestPython.unavailableReason)))
    func authorizationDropForwardAndInternal() async throws {
        try await withProxy(routes: { echo in
            #"[{"prefix":"/drop","upstream":"\#(echo.baseURL)"},{"prefix":"/fwd","upstream":"\#(echo.baseURL)","authorization":"forward"},"#
                + #"{"prefix":"/int","upstream":"\#(echo.baseURL)","authorization":"internal","audience":"orders-api"}]"#
        }) { gateway, echo in
            let token = try await accessToken(gateway)
            func upstreamAuthorization(_ path: String) async throws -> String? {
                let answer = try await gateway.client.send("GET", path, headers: ["Authorization": "Bearer \(token)"])
                #expect(answer.status == 200)
                return echo.lastRequest?.header("Authorization")
            }
            #expect(try await upstreamAuthorization("/drop/x") == nil)
            #expect(try await upstreamAuthorization("/fwd/x") == "Bearer \(token)")
            let internalHeader = try #require(try await upstreamAuthorization("/int/x"))
            let minted = String(internalHeader.dropFirst("Bearer ".count))
            #expect(minted != token)
            let key = gateway.components.keys.current.activeSigningKey.material.value
            let verified = try await TestPython.verifyJWT(minted, key: key, audience: "orders-api", issuer: "authgate")
            #expect(verified?.sub == "user-alice" && verified?.aud == "orders-api")
            // Minted for that upstream only: the gateway itself does not take it.
            #expect(try await gateway.client.get("/auth/verify", bearer: minted).status == 401)
            let claims = try JWTCodec(ring: gateway.components.keys, issuer: "authgate", audience: "orders-api").verify(minted)
            #expect(claims.exp - claims.iat == 60 && claims.login == "alice")
        }
    }

    @Test(arguments: TestStoreKind.testable)
    func refusedTokensNeverReachTheUpstream(_ kind: TestStoreKind) async throws {
        try await withProxy(kind, routes: apiRoute) { gateway, echo in
            let token = try await accessToken(gateway)
            #expect(try await gateway.client.get("/api/ok", bearer: token).status == 200)
            let seen = echo.requests.count
            var expired = try gateway.components.issuer.jwt.verify(token)
            expired.exp = Int64(Date().timeIntervalSince1970) - 120
            let forged = token.dropLast(4) + (token.hasSuffix("AAAA") ? "BBBB" : "AAAA")
            for (label, bearer) in [("none", nil), ("garbage", "x.y.z"), ("forged", String(forged)), ("expired", try gateway.components.issuer.jwt.sign(expired))] {
                let answer = try await gateway.client.get("/api/secret", bearer: bearer)
                #expect(answer.status == 401 && answer.errorCode == "invalid_token", "\(label): \(answer.status)")
            }
            #expect(try await gateway.client.send("POST", "/auth/logout", headers: ["Authorization": "Bearer \(token)"]).status == 204)
            #expect(try await gateway.client.get("/api/secret", bearer: token).status == 401)
            #expect(echo.requests.count == seen, "a refused request reached the upstream")
        }
    }

    @Test func upstreamDownIs502SlowIs504BrokenIsNeverComplete() async throws {
        let closed = try TestEnvironment.refusingPort()
        defer { withExtendedLifetime(closed) {} }
        try await withProxy(routes: { echo in
            #"[{"prefix":"/down","upstream":"http://127.0.0.1:\#(closed.port)"},{"prefix":"/api","upstream":"\#(echo.baseURL)","timeout":2}]"#
        }) { gateway, echo in
            let token = try await accessToken(gateway)
            let down = try await gateway.client.get("/down/x", bearer: token)
            #expect(down.status == 502 && down.errorCode == "bad_gateway" && !down.text.contains("127.0.0.1"))
            let slow = try await gateway.client.get("/api/slow/4", bearer: token)
            #expect(slow.status == 504 && slow.errorCode == "upstream_timeout")
            // The route's timeout is for the head: a body that takes longer still arrives.
            let slowBody = try await gateway.client.get("/api/slow-body/3", bearer: token)
            #expect(slowBody.status == 200)
            for path in ["/api/break-mid-body", "/api/break-mid-body/chunked"] {
                let broken = try await RawHTTPConnection.with(port: gateway.port) { connection in
                    try await connection.send("GET", path, headers: [HeaderLine("Authorization", "Bearer \(token)")], keepBody: 0)
                }
                #expect(broken.status == 200 && !broken.complete && broken.bodySize < EchoUpstream.breakMidBodyAdvertised, "\(path)")
            }
            // The gateway still serves after all of that.
            #expect(try await gateway.client.get("/api/fine", bearer: token).status == 200)
        }
    }

    @Test func pathsWithDotSegmentsAreRefusedAndReservedPathsAreNeverProxied() async throws {
        try await withProxy(routes: { #"[{"prefix":"/","upstream":"\#($0.baseURL)"}]"# }) { gateway, echo in
            let token = try await accessToken(gateway)
            for path in ["/a/../auth/me", "/a/%2e%2E/x"] {
                let answer = try await RawHTTPConnection.with(port: gateway.port) { connection in
                    try await connection.send("GET", path, headers: [HeaderLine("Authorization", "Bearer \(token)")])
                }
                #expect(answer.status == 400, "\(path)")
            }
            #expect(try await gateway.client.get("/auth/nothing-here", bearer: token).status == 404)
            #expect(try await gateway.client.get("/anything", bearer: token).status == 200)
            #expect(echo.requests.count == 1)
        }
    }

    @Test func localSessionOnAShotGridRouteIsDenied() async throws {
        let routes = try RouteSettings.load(text: #"[{"prefix":"/sg","kind":"shotgrid"}]"#, source: "test", fileValue: nil, defaultTimeout: 5, shotgridURL: "http://127.0.0.1:9")
        try await withGateway(.sqlite, configure: {
            $0.routes = routes
            $0.shotgridURL = "http://127.0.0.1:9"
        }) { gateway in
            let answer = try await gateway.client.get("/sg/entity/projects", bearer: try await accessToken(gateway))
            #expect(answer.status == 403 && answer.errorCode == "access_denied")
        }
    }
}
