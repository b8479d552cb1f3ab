// ChannelProxyHostileInputTests: what a hostile or broken client can send to a proxied route:
// request smuggling (Content-Length with chunked, two lengths), broken chunking, malformed or
// oversized headers, garbage, absolute-form targets. Each connection gets one 4xx and is
// closed, never hangs (and a valid request before the bad bytes still gets its answer first);
// nothing the client did not send as a whole, authenticated request reaches the upstream; and
// the gateway answers normally afterwards.
@testable import AuthGate
import AuthGateTesting
import Foundation
import Testing

@Suite struct ChannelProxyHostileInputTests {
    /// Writes `bytes` on a new connection, half-closes, and reads every answer until the gateway
    /// closes; fails instead of waiting past `seconds`.
    private static func exchange(_ gateway: TestGateway, _ bytes: String, seconds: Double = 10) async throws -> [Int] {
        let port = gateway.port
        let statuses = try await withDeadline(seconds: seconds) {
            try await RawHTTPConnection.with(port: port) { connection in
                try await connection.write(bytes)
                connection.finishWriting()
                return await connection.readResponsesUntilClose().map(\.status)
            }
        }
        return try #require(statuses, "the connection hung for \(seconds) s")
    }

    @Test func smugglingBrokenFramingAndGarbageAreRefusedAndNeverReachTheUpstream() async throws {
        try await withProxy(routes: apiRoute) { gateway, echo in
            let token = try await accessToken(gateway)
            let auth = "Authorization: Bearer \(token)\r\n"
            // The smuggled request carries no token: if the gateway saw it as a request it would
            // refuse it (401); only an upstream reading the framing differently would see it.
            let smuggled = "GET /api/smuggled HTTP/1.1\r\nHost: gw\r\n\r\n"
            let cases: [(name: String, bytes: String)] = [
                ("Content-Length with chunked", "POST /api/cl-te HTTP/1.1\r\nHost: gw\r\n\(auth)Content-Length: 48\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n\(smuggled)"),
                ("chunked then Content-Length", "POST /api/te-cl HTTP/1.1\r\nHost: gw\r\n\(auth)Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
                ("two Content-Lengths", "POST /api/two-cl HTTP/1.1\r\nHost: gw\r\n\(auth)Content-Length: 3\r\nContent-Length: 43\r\n\r\nabc\(smuggled)"),
                ("a transfer coding other than chunked", "POST /api/gzip-te HTTP/1.1\r\nHost: gw\r\n\(auth)Transfer-Encoding: gzip\r\n\r\nabc"),
                ("a bad chunk size", "POST /api/bad-chunk HTTP/1.1\r\nHost: gw\r\n\(auth)Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"),
                ("a header line without a colon", "GET /api/no-colon HTTP/1.1\r\nHost: gw\r\n\(auth)Broken header line\r\n\r\n"),
                ("a NUL in a header value", "GET /api/nul HTTP/1.1\r\nHost: gw\r\n\(auth)X-Note: a\u{0}b\r\n\r\n"),
                ("a space before the colon", "GET /api/space HTTP/1.1\r\nHost: gw\r\n\(auth)X-Authgate-User : mallory\r\n\r\n"),
                ("a bare LF inside a header value", "GET /api/lf HTTP/1.1\r\nHost: gw\r\n\(auth)X-Note: a\nX-Authgate-User: mallory\r\n\r\n"),
                ("garbage", "\u{1}\u{2}\u{3} NOT HTTP AT ALL\r\n\r\n"),
                ("a request line with no version", "GET /api/old\r\n\r\n"),
                ("oversized headers", "GET /api/big HTTP/1.1\r\nHost: gw\r\n\(auth)X-Big: \(String(repeating: "a", count: 200_000))\r\n\r\n"),
            ]
            for (name, bytes) in cases {
                // One clear 4xx, then the connection closes.
                let statuses = try await Self.exchange(gateway, bytes)
                #expect(statuses.count == 1 && statuses.allSatisfy { (400..<500).contains($0) }, "\(name): \(statuses)")
            }
            let paths = echo.requests.map(\.path)
            #expect(!paths.contains("/smuggled"), "a smuggled request reached the upstream: \(paths)")
            #expect(!echo.requests.contains { $0.bodyComplete && ["/two-cl", "/gzip-te", "/bad-chunk", "/no-colon", "/nul", "/space", "/lf", "/big"].contains($0.path) },
                    "a malformed request reached the upstream whole: \(paths)")
            for request in echo.requests {
                #expect(!request.headers.contains { $0.value.contains("mallory") }, "a spoofed identity reached the upstream: \(request.headers)")
            }

            // A valid request, then garbage on the same connection: the first is answered, then
            // the garbage gets a 400 and the connection closes; alike for a proxied request, the
            // router's own and a verify answered in the pipeline.
            for first in ["/api/first", "/healthz", "/auth/verify"] {
                let mixed = try await Self.exchange(gateway, "GET \(first) HTTP/1.1\r\nHost: gw\r\n\(auth)\r\n\u{1}\u{2} junk\r\n\r\n")
                #expect(mixed == [200, 400], "\(first), then garbage: \(mixed)")
            }
            #expect(echo.requests.filter { $0.path == "/first" }.count == 1)
            // An absolute-form target is proxied by its path, or refused; never elsewhere.
            let absolute = try await Self.exchange(gateway, "GET http://elsewhere.example/api/absolute HTTP/1.1\r\nHost: gw\r\n\(auth)\r\n")
            #expect(absolute == [200] || absolute.allSatisfy { (400..<500).contains($0) }, "\(absolute)")

            // Still serving.
            let after = try await RawHTTPConnection.with(port: gateway.port) { connection in
                try await connection.send("GET", "/api/after", headers: [HeaderLine("Authorization", "Bearer \(token)")])
            }
            #expect(after.status == 200 && after.json["path"] as? String == "/after")
        }
    }
}
