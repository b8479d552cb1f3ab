// ChannelProxyTests: the duties of the channel-level proxy (ProxyChannelHandler) beyond the
// header, status and streaming rules ProxyTests checks for every proxied request: upstream
// connections kept and reused, answers in request order when a client pipelines (through the
// proxy and the router alike), a half-closed client still answered, a pooled connection the
// upstream hung up on retried once (and never with a body), a cut-off upload never passed on as
// whole, and a client leaving mid-download taking the upstream connection with it.
@testable import AuthGate
import AuthGateTesting
import Foundation
import Testing

@Suite struct ChannelProxyTests {
    @Test func consecutiveRequestsReuseOneUpstreamConnection() async throws {
        try await withProxy(routes: apiRoute) { gateway, echo in
            let token = try await accessToken(gateway)
            let statuses = try await RawHTTPConnection.with(port: gateway.port) { connection in
                var statuses: [Int] = []
                for number in 0..<20 {
                    statuses.append(try await connection.send("GET", "/api/n/\(number)", headers: [HeaderLine("Authorization", "Bearer \(token)")]).status)
                }
                return statuses
            }
            #expect(statuses == Array(repeating: 200, count: 20))
            #expect(echo.requests.count == 20 && echo.acceptedConnections == 1, "\(echo.acceptedConnections) upstream connections")
        }
    }

    /// Five requests in one write: proxied ones, the router's own, and a proxied one queued behind
    /// a router answer (which the router's proxy path then takes): the answers come in order.
    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        try await withProxy(routes: apiRoute) { gateway, echo in
            let token = try await accessToken(gateway)
            let auth = "Authorization: Bearer \(token)\r\n"
            let answers = try await RawHTTPConnection.with(port: gateway.port) { connection in
                try await connection.write(
                    "GET /api/slow/0.3 HTTP/1.1\r\nHost: gw\r\n\(auth)\r\n"
                        + "GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n"
                        + "GET /api/second HTTP/1.1\r\nHost: gw\r\n\(auth)\r\n"
                        + "POST /api/upload HTTP/1.1\r\nHost: gw\r\n\(auth)Content-Length: 5\r\n\r\nhello"
                        + "GET /auth/verify HTTP/1.1\r\nHost: gw\r\n\(auth)\r\n")
                var answers: [RawHTTPResponse] = []
                for _ in 0..<5 { answers.append(try await connection.readResponse()) }
                return answers
            }
            #expect(answers.map(\.status) == [200, 200, 200, 200, 200])
            #expect(answers[0].json["path"] as? String == "/slow/0.3")
            #expect(answers[1].json["status"] as? String == "ok")
            #expect(answers[2].json["path"] as? String == "/second")
            #expect(answers[3].json["size"] as? Int == 5)
            #expect(answers[4].header("X-Authgate-Login") == "alice")
            #expect(echo.requests.map(\.path) == ["/slow/0.3", "/second", "/upload"])
        }
    }

    @Test func aClientThatHalfClosesAfterItsRequestStillGetsTheAnswer() async throws {
        try await withProxy(routes: apiRoute) { gateway, _ in
            let token = try await accessToken(gateway)
            let answer = try await RawHTTPConnection.with(port: gateway.port) { connection in
                try await connection.write("GET /api/slow/0.2 HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer \(token)\r\n\r\n")
                connection.finishWriting()
                return try await connection.readResponse()
            }
            #expect(answer.status == 200 && answer.complete && answer.json["path"] as? String == "/slow/0.2")
        }
    }

    /// Every keep-alive pool meets an upstream closing a connection just as a request goes out on
    /// it. A request without a body is sent again on a new connection; one with a body is not
    /// (its body is gone), and gets the 502.
    @Test func aPooledConnectionTheUpstreamHungUpOnIsRetriedOnlyWithoutABody() async throws {
        try await withProxy(routes: apiRoute) { gateway, echo in
            let token = try await accessToken(gateway)
            let auth = HeaderLine("Authorization", "Bearer \(token)")
            let (retried, refused) = try await RawHTTPConnection.with(port: gateway.port) { connection in
                #expect(try await connection.send("GET", "/api/first", headers: [auth]).status == 200)
                let retried = try await connection.send("GET", "/api/hang-up-on-reuse", headers: [auth])
                let refused = try await connection.send("POST", "/api/hang-up-on-reuse", headers: [auth], body: Array("body".utf8))
                return (retried, refused)
            }
            #expect(retried.status == 200 && retried.json["path"] as? String == "/hang-up-on-reuse", "\(retried.status) \(retried.text)")
            #expect(refused.status == 502 && refused.errorCode == "bad_gateway", "\(refused.status) \(refused.text)")
            // first (connection 1), the hung-up GET (1), its retry (2), the hung-up POST (2).
            #expect(echo.requests.map(\.connection) == [1, 1, 2, 2])
            #expect(echo.requests.filter { $0.method == "POST" }.count == 1)
        }
    }

    /// The upstream must be able to tell a cut-off upload from a whole one: the proxy closes its
    /// connection rather than ending the request (with Content-Length or chunked).
    @Test(arguments: [false, true])
    func anUploadThatBreaksOffNeverReachesTheUpstreamAsComplete(chunked: Bool) async throws {
        try await withProxy(routes: apiRoute) { gateway, echo in
            let token = try await accessToken(gateway)
            _ = try? await RawHTTPConnection.with(port: gateway.port) { connection in
                try await connection.writePattern(
                    "PUT", "/api/upload", headers: [HeaderLine("Authorization", "Bearer \(token)")], bytes: 1 << 20, chunked: chunked, stopAfter: 200_000)
                // Cut off once the upstream has the request (a cut before it connects reaches nothing).
                _ = try await eventually(within: 5, until: { $0 >= 1 }) { echo.acceptedConnections }
                throw CancellationError()
            }
            let seen = try await eventually(within: 5, until: { $0 != nil }) { echo.lastRequest }
            #expect(seen?.bodyComplete == false, "the upstream took a cut-off upload for a whole one")
            #expect((seen?.bodySize ?? 0) <= 200_000)
        }
    }

    @Test func aClientLeavingMidDownloadClosesTheUpstreamConnection() async throws {
        try await withProxy(routes: apiRoute) { gateway, echo in
            let token = try await accessToken(gateway)
            _ = try? await RawHTTPConnection.with(port: gateway.port) { connection in
                try await connection.write("GET /api/download/\(64 << 20) HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer \(token)\r\n\r\n")
                _ = try await eventually(within: 5, until: { $0 == 1 }) { echo.requests.count }
                // Leaves without reading: the answer is far larger than the socket buffers.
                throw CancellationError()
            }
            #expect(echo.requests.count == 1)
            let open = try await eventually(within: 5, until: { $0 == 0 }) { echo.openConnections }
            #expect(open == 0, "the upstream connection outlived its client")
            // The gateway serves on.
            #expect(try await gateway.client.get("/api/after", bearer: token).status == 200)
        }
    }
}
