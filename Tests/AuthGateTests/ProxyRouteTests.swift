// ProxyRouteTests: the `routes` setting: every way a route can be wrong stops start-up with a
// message naming the route; matching is on whole segments, longest prefix first; and the header
// rules between client and upstream.
@testable import AuthGate
import AuthGateTesting
import Foundation
import HTTPTypes
import Testing

@Suite struct ProxyRouteTests {
    func routes(_ json: String, shotgridURL: String? = nil) throws(ConfigError) -> [ProxyRoute] {
        try RouteSettings.load(text: json, source: "AUTHGATE_ROUTES", fileValue: nil, defaultTimeout: 10, shotgridURL: shotgridURL)
    }

    @Test func validRoutesGetTheirDefaults() throws {
        let parsed = try routes(#"[{"prefix":"/api/","upstream":"http://10.0.0.5:8081/v1"},{"prefix":"/sg","kind":"shotgrid","timeout":2.5}]"#, shotgridURL: "https://x.shotgrid.autodesk.com")
        #expect(parsed.count == 2)
        #expect(parsed[0].prefix == "/api" && parsed[0].kind == .http && parsed[0].stripPrefix && parsed[0].timeout == 10)
        #expect(parsed[0].authorization == .drop && parsed[0].audience == "/api/")  // the prefix as written
        #expect(!parsed[0].signInRedirect && !parsed[1].signInRedirect)
        let opted = try routes(#"[{"prefix":"/app","upstream":"http://a","sign_in_redirect":true}]"#)
        #expect(opted[0].signInRedirect)
        #expect(parsed[1].kind == .shotgrid && parsed[1].timeout == 2.5 && parsed[1].upstream == nil)
    }

    @Test(arguments: [
        (#"[{"prefix":"/auth/x","upstream":"http://a"}]"#, "route 1 (/auth/x): prefix /auth/x is reserved"),
        (#"[{"prefix":"/healthz","upstream":"http://a"}]"#, "route 1 (/healthz): prefix /healthz is reserved"),
        (#"[{"prefix":"/api"}]"#, "route 1 (/api): upstream is required"),
        (#"[{"prefix":"/api","upstream":"ftp://a"}]"#, "route 1 (/api): upstream must be an http:// or https:// URL"),
        (#"[{"prefix":"/api","upstream":"http://user:pw@a"}]"#, "route 1 (/api): upstream must not carry credentials"),
        (#"[{"prefix":"/api","upstreem":"http://a"}]"#, #"route 1 (/api): unknown key "upstreem""#),
        (#"[{"prefix":"/a","upstream":"http://a"},{"prefix":"/a/","upstream":"http://b"}]"#, "route 2 (/a/): duplicate prefix, already used by route 1"),
        (#"[{"prefix":"api","upstream":"http://a"}]"#, "route 1 (api): prefix must start with /"),
        (#"[{"prefix":"/a/../b","upstream":"http://a"}]"#, "route 1 (/a/../b): prefix must not contain"),
        (#"[{"prefix":"/a","upstream":"http://a","authorization":"pass"}]"#, "route 1 (/a): authorization must be drop, forward or internal"),
        (#"[{"prefix":"/a","upstream":"http://a","timeout":0}]"#, "route 1 (/a): timeout must be a positive number"),
        (#"[{"prefix":"/a","upstream":"http://a","strip_prefix":"no"}]"#, "route 1 (/a): strip_prefix must be true or false"),
        (#"[{"prefix":"/a","upstream":"http://a","sign_in_redirect":"yes"}]"#, "route 1 (/a): sign_in_redirect must be true or false"),
        (#"[{"upstream":"http://a"}]"#, "route 1: prefix is required"),
        (#"[{"prefix":"/sg","kind":"shotgrid"}]"#, "route 1 (/sg): kind shotgrid needs the shotgrid-url setting"),
        (#"{"prefix":"/a"}"#, "must be a list of routes"),
        (#"[{"prefix":"/a",]"#, "AUTHGATE_ROUTES is not valid JSON"),
        (#"[{"prefix":"/sg","kind":"shotgrid","authorization":"internal"}]"#, "route 1 (/sg): authorization is not used by kind shotgrid"),
    ])
    func badRoutesNameTheRouteAndTheProblem(_ json: String, _ message: String) {
        do {
            _ = try routes(json)
            Issue.record("accepted \(json)")
        } catch {
            #expect(error.description.contains(message), "\(error.description)")
            #expect(error.setting == "routes")
        }
    }

    /// An internal token minted for the gateway's own audience would be an access token.
    @Test func aRouteCannotMintTokensForTheGatewaysOwnAudience() async throws {
        let clash = #"[{"prefix":"/api","upstream":"http://a","authorization":"internal","audience":"authgate"}]"#
        do {
            _ = try await GatewayConfig.load(flags: ["routes": clash], environment: [:], file: nil)
            Issue.record("accepted a route whose internal tokens are access tokens")
        } catch let error as ConfigError {
            #expect(error.description.contains("route 1 (/api)") && error.description.contains("access tokens"))
        }
        let fine = try await GatewayConfig.load(flags: ["routes": clash.replacingOccurrences(of: #""audience":"authgate""#, with: #""audience":"orders""#)], environment: [:], file: nil)
        #expect(fine.routes.first?.audience == "orders")
    }

    @Test func longestPrefixWinsOnWholeSegments() throws {
        let table = ProxyRouteTable(try routes(#"[{"prefix":"/","upstream":"http://root"},{"prefix":"/api","upstream":"http://api"},{"prefix":"/api/v2","upstream":"http://v2"}]"#))
        #expect(table.route(for: "/api")?.prefix == "/api")
        #expect(table.route(for: "/api/x")?.prefix == "/api")
        #expect(table.route(for: "/apix")?.prefix == "/")
        #expect(table.route(for: "/api/v2/y")?.prefix == "/api/v2")
        #expect(table.route(for: "/api/v20")?.prefix == "/api")
        // The gateway's own paths are never proxied, even under a catch-all route.
        #expect(table.route(for: "/auth/nope") == nil && table.route(for: "/metrics") == nil)
        #expect(ProxyPath.hasDotSegment("/api/../auth") && ProxyPath.hasDotSegment("/api/%2E%2e/x") && !ProxyPath.hasDotSegment("/api/a..b"))
    }

    @Test func upstreamURLJoinsBasePathRestAndQuery() throws {
        let parsed = try routes(#"[{"prefix":"/api","upstream":"http://u:81/v1/"},{"prefix":"/raw","upstream":"http://u","strip_prefix":false}]"#)
        #expect(parsed[0].upstreamURL(rest: "/x/y", fullPath: "/api/x/y", query: "a=1&b") == "http://u:81/v1/x/y?a=1&b")
        #expect(parsed[0].upstreamURL(rest: "", fullPath: "/api", query: nil) == "http://u:81/v1")
        #expect(parsed[1].upstreamURL(rest: "/x", fullPath: "/raw/x", query: nil) == "http://u/raw/x")
        let bare = try routes(#"[{"prefix":"/b","upstream":"http://u"}]"#)[0]
        #expect(bare.upstreamURL(rest: "", fullPath: "/b", query: nil) == "http://u/")
    }

    @Test func headerRulesStripSpoofsHopByHopAndTheRefreshCookie() {
        let claims = AccessClaims(iss: "i", aud: "a", sub: "u1", sid: "s1", jti: "j", iat: 0, nbf: 0, exp: 1, login: "alice", email: "a@x", name: "Ålice")
        var incoming = HTTPFields()
        incoming.append(HTTPField(name: HTTPField.Name("x-authgate-login")!, value: "mallory"))
        incoming.append(HTTPField(name: HTTPField.Name("X-AUTHGATE-ROLE")!, value: "admin"))
        incoming.append(HTTPField(name: .connection, value: "keep-alive, X-Secret-Hop"))
        incoming.append(HTTPField(name: HTTPField.Name("X-Secret-Hop")!, value: "1"))
        incoming.append(HTTPField(name: .transferEncoding, value: "chunked"))
        incoming.append(HTTPField(name: HTTPField.Name("TE")!, value: "trailers"))
        incoming.append(HTTPField(name: .cookie, value: "a=1; authgate_refresh=SECRET; b=2"))
        incoming.append(HTTPField(name: .authorization, value: "Bearer client-token"))
        incoming.append(HTTPField(name: HTTPField.Name("X-Forwarded-For")!, value: "203.0.113.9"))
        incoming.append(HTTPField(name: HTTPField.Name("X-Forwarded-Proto")!, value: "https"))
        incoming.append(HTTPField(name: HTTPField.Name("X-Keep")!, value: "yes"))
        let client = ForwardedHeaders.Client(peer: "10.0.0.2", peerIsTrusted: false, authority: "gw.example:8080")
        let out = ForwardedHeaders.toUpstream(incoming, claims: claims, client: client, authorization: nil)
        #expect(out[HTTPField.Name("X-Authgate-Login")!] == "alice" && out[values: HTTPField.Name("X-Authgate-Login")!].count == 1)
        #expect(out[HTTPField.Name("X-Authgate-Role")!] == nil && out[HTTPField.Name("X-Authgate-Name")!] == "%C3%85lice")
        #expect(out[.connection] == nil && out[HTTPField.Name("X-Secret-Hop")!] == nil && out[.transferEncoding] == nil && out[HTTPField.Name("TE")!] == nil)
        #expect(out[.cookie] == "a=1; b=2" && out[.authorization] == nil && out[HTTPField.Name("X-Keep")!] == "yes")
        #expect(out[HTTPField.Name("X-Forwarded-For")!] == "203.0.113.9, 10.0.0.2")
        // The peer is not a trusted proxy: its claim to HTTPS is not repeated.
        #expect(out[HTTPField.Name("X-Forwarded-Proto")!] == "http" && out[HTTPField.Name("X-Forwarded-Host")!] == "gw.example:8080")
        #expect(ForwardedHeaders.withoutRefreshCookie("authgate_refresh=x") == nil)

        var answer = HTTPFields()
        answer.append(HTTPField(name: .connection, value: "close, X-Drop"))
        answer.append(HTTPField(name: HTTPField.Name("X-Drop")!, value: "1"))
        answer.append(HTTPField(name: HTTPField.Name("Keep-Alive")!, value: "timeout=5"))
        answer.append(HTTPField(name: .setCookie, value: "a=1"))
        answer.append(HTTPField(name: .setCookie, value: "b=2"))
        let back = ForwardedHeaders.toClient(answer)
        #expect(back.count == 2 && back[values: .setCookie] == ["a=1", "b=2"])
    }
}
