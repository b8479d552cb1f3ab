// ProxyProcessTests: the proxy in the real `authgate` binary, where the process is the thing to
// watch: 64 MiB up and down pass intact while its memory barely moves, /metrics counts what it
// proxied, nothing of a proxied body reaches its log, and a bad route stops it at start-up.
@testable import AuthGate
import AuthGateTesting
import Foundation
import Testing

/// `authgate serve` on SQLite with a local user alice, `arguments` added; stopped afterwards.
func withGatewayProcess(_ arguments: [String], _ body: (GatewayProcess) async throws -> Void) async throws {
    let directory = try TestEnvironment.temporaryDirectory()
    try await finally({
        let store = "sqlite:\(directory)/authgate.db", keys = "\(directory)/keys.json"
        let added = try await OperatorCLI(store: store, keysPath: keys).run(["users", "add", "alice", "--password-stdin"], stdin: "correct-horse-1\n")
        try #require(added.status == 0, "\(added)")
        let gateway = try await GatewayProcess.start(arguments: ["serve", "--store", store, "--keys", keys] + arguments)
        try await finally({ try await body(gateway) }, { await gateway.stop() })
    }, { TestEnvironment.remove(directory) })
}

/// The largest RSS seen while `body` runs, sampled every 20 ms.
func peakRSS(of process: GatewayProcess, during body: () async throws -> Void) async throws -> Int {
    let sampler = Task { () -> Int in
        var peak = 0
        while !Task.isCancelled {
            peak = max(peak, process.rssBytes() ?? 0)
            try? await Task.sleep(for: .milliseconds(20))
        }
        return max(peak, process.rssBytes() ?? 0)
    }
    do {
        try await body()
    } catch {
        sampler.cancel()
        throw error
    }
    sampler.cancel()
    return await sampler.value
}

@Suite struct ProxyProcessTests {
    @Test func bodiesOf64MiBStreamThroughInLittleMemory() async throws {
        let echo = EchoUpstream()
        try await echo.start()
        try await finally({
            // The route's head timeout runs from when the body has been sent: the upload's own
            // time, however long on a loaded machine, does not count against it.
            try await withGatewayProcess(["--routes", #"[{"prefix":"/api","upstream":"\#(echo.baseURL)"}]"#]) { gateway in
                let token = try #require(try await gateway.client.postJSON("/auth/login", ["username": "alice", "password": "correct-horse-1"]).json["access_token"] as? String)
                let size = 64 << 20
                let baseline = try #require(gateway.rssBytes())
                let peak = try await peakRSS(of: gateway) {
                    let upload = try await RawHTTPConnection.with(port: gateway.port) { connection in
                        try await connection.sendPattern("POST", "/api/upload", headers: [HeaderLine("Authorization", "Bearer \(token)")], bytes: size)
                    }
                    #expect(upload.status == 200)
                    let received = try #require(echo.lastRequest)
                    #expect(received.bodySize == size && received.bodyComplete && received.bodySHA256 == DownloadPattern.sha256Hex(count: size))
                    let download = try await RawHTTPConnection.with(port: gateway.port) { connection in
                        try await connection.send("GET", "/api/download/\(size)", headers: [HeaderLine("Authorization", "Bearer \(token)")], keepBody: 0)
                    }
                    #expect(download.status == 200 && download.complete && download.bodySize == size)
                    #expect(download.bodySHA256 == EchoUpstream.expectedDownloadSHA256(bytes: size))
                    // Chunked upload (no Content-Length) streams the same way.
                    let chunked = try await RawHTTPConnection.with(port: gateway.port) { connection in
                        try await connection.sendPattern("PUT", "/api/upload", headers: [HeaderLine("Authorization", "Bearer \(token)")], bytes: size, chunked: true)
                    }
                    #expect(chunked.status == 200 && echo.lastRequest?.bodySHA256 == DownloadPattern.sha256Hex(count: size))
                }
                let growth = peak - baseline
                #expect(growth < 32 << 20, "RSS grew by \(growth >> 20) MiB while 3 × 64 MiB passed through")
            }
        }, { await echo.stop() })
    }

    @Test func metricsCountProxiedRequestsAndTheLogHoldsNoBody() async throws {
        let echo = EchoUpstream()
        try await echo.start()
        try await finally({
            try await withGatewayProcess(["--routes", #"[{"prefix":"/api","upstream":"\#(echo.baseURL)"}]"#, "--log-level", "trace"]) { gateway in
                let token = try #require(try await gateway.client.postJSON("/auth/login", ["username": "alice", "password": "correct-horse-1"]).json["access_token"] as? String)
                let marker = "PROXIED-BODY-MARKER-" + UUID().uuidString
                for _ in 0..<3 {
                    let answer = try await gateway.client.send("POST", "/api/things", headers: ["Authorization": "Bearer \(token)", "Content-Type": "text/plain"], body: Data(marker.utf8))
                    #expect(answer.status == 200 && echo.lastRequest?.bodySize == marker.utf8.count)
                }
                #expect(try await gateway.client.get("/api/status/418", bearer: token).status == 418)
                #expect(try await gateway.client.get("/api/x").status == 401)
                let metrics = try await gateway.client.get("/metrics").text
                #expect(metrics.contains(#"authgate_proxy_requests_total{route="/api",status="200"} 3"#), "\(metrics)")
                #expect(metrics.contains(#"authgate_proxy_requests_total{route="/api",status="418"} 1"#))
                #expect(metrics.contains(#"authgate_proxy_requests_total{route="/api",status="401"} 1"#))
                let log = gateway.stderrTail(1 << 20)
                #expect(!log.contains(marker) && !log.contains(token) && !log.contains("correct-horse-1"))
            }
        }, { await echo.stop() })
    }

    @Test func aBadRouteStopsServeAndConfigCheckNamingTheRoute() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        try await finally({
            let bad = #"[{"prefix":"/ok","upstream":"http://127.0.0.1:9"},{"prefix":"/metrics/x","upstream":"http://127.0.0.1:9"}]"#
            let failure = await #expect(throws: TestSetupError.self) {
                _ = try await GatewayProcess.start(arguments: ["serve", "--store", "sqlite:\(directory)/a.db", "--keys", "\(directory)/k.json", "--routes", bad])
            }
            #expect(failure?.description.contains("route 2 (/metrics/x)") == true, "\(String(describing: failure))")
            let cli = OperatorCLI(store: "sqlite:\(directory)/a.db", keysPath: "\(directory)/k.json", settings: ["AUTHGATE_ROUTES": bad])
            let check = try await cli.run(["config", "check"])
            #expect(check.status == 2 && check.stderr.contains("route 2 (/metrics/x)") && check.stderr.contains("reserved"))
            let good = try await OperatorCLI(
                store: "sqlite:\(directory)/a.db", keysPath: "\(directory)/k.json",
                settings: ["AUTHGATE_ROUTES": #"[{"prefix":"/ok","upstream":"http://127.0.0.1:9"}]"#, "AUTHGATE_JWT_SECRET": String(repeating: "s", count: 40)]
            ).run(["config", "check"])
            #expect(good.status == 0 && good.stdout.contains("/ok -> http://127.0.0.1:9"))
            #expect(good.stdout.contains("jwt-secret") && !good.stdout.contains(String(repeating: "s", count: 40)))
        }, { TestEnvironment.remove(directory) })
    }

    /// The pool's metrics as the contract names them, from a gateway whose pool holds two sessions.
    @Test func poolMetricsShowEntriesHitsMissesAndEvictionsByReason() async throws {
        let fake = FakeShotGrid(users: [
            .init(id: 42, login: "alice", password: "wonderland-pass", email: "alice@example.com", name: "Alice"),
        ])
        try await fake.start()
        let directory = try TestEnvironment.temporaryDirectory()
        try await finally({
            let gateway = try await GatewayProcess.start(arguments: [
                "serve", "--store", "sqlite:\(directory)/authgate.db", "--keys", "\(directory)/keys.json", "--provider", "shotgrid",
                "--shotgrid-url", fake.baseURL, "--pool-size", "2", "--routes", #"[{"prefix":"/sg","kind":"shotgrid"}]"#,
            ])
            try await finally({
                var tokens: [String] = []
                for _ in 0..<3 {
                    let signedIn = try await gateway.client.postJSON("/auth/login", ["username": "alice", "password": "wonderland-pass"])
                    tokens.append(try #require(signedIn.json["access_token"] as? String))
                }
                #expect(try await gateway.client.get("/sg/entity/projects", bearer: tokens[2]).status == 200)  // a hit
                #expect(try await gateway.client.get("/sg/entity/projects", bearer: tokens[0]).status == 200)  // a miss: evicted, rebuilt
                #expect(try await gateway.client.send("POST", "/auth/logout", headers: ["Authorization": "Bearer \(tokens[0])"]).status == 204)
                let metrics = try await gateway.client.get("/metrics").text
                for line in [
                    "authgate_upstream_pool_entries 1.0", "authgate_upstream_pool_hits_total 1", "authgate_upstream_pool_misses_total 1",
                    #"authgate_upstream_pool_evictions_total{reason="lru"} 2"#, #"authgate_upstream_pool_evictions_total{reason="logout"} 1"#,
                    #"authgate_proxy_requests_total{route="/sg",status="200"} 2"#,
                ] {
                    #expect(metrics.contains(line), "missing \(line) in\n\(metrics)")
                }
            }, { await gateway.stop() })
        }, {
            await fake.stop()
            TestEnvironment.remove(directory)
        })
    }
}
