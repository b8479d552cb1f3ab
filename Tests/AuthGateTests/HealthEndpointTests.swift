// HealthEndpointTests: the bodies of /healthz and /readyz (ok, degraded with the failing check,
// 503 unavailable past the fail-static window) and /metrics as Prometheus text from the binary.
@testable import AuthGate
import AuthGateTesting
import Foundation
import Testing

/// The Prometheus text exposition format, line by line: each sample's family declared by a
/// `# TYPE` line before it, names and label sets well formed, values numbers. Returns the
/// problems found (none when the text is valid) and the declared families with their types.
func prometheusProblems(_ text: String) -> (problems: [String], types: [String: String]) {
    var problems: [String] = []
    var types: [String: String] = [:]
    let name = #"[a-zA-Z_:][a-zA-Z0-9_:]*"#
    let label = #"[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*""#
    let sample = try! Regex(#"^(\#(name))(\{(?:\#(label))(?:,\#(label))*,?\})? (\S+)( -?[0-9]+)?$"#)
    let typeLine = try! Regex(#"^# TYPE (\#(name)) (counter|gauge|histogram|summary|untyped)$"#)
    if !text.isEmpty && !text.hasSuffix("\n") { problems.append("the text does not end with a line feed") }
    for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
        if line.isEmpty { continue }
        if line.hasPrefix("# HELP ") { continue }
        if let match = line.wholeMatch(of: typeLine) {
            let family = String(match.output[1].substring ?? "")
            if types[family] != nil { problems.append("family \(family) declared twice") }
            types[family] = String(match.output[2].substring ?? "")
            continue
        }
        if line.hasPrefix("#") {
            problems.append("unexpected comment: \(line)")
            continue
        }
        guard let match = line.wholeMatch(of: sample) else {
            problems.append("not a sample line: \(line)")
            continue
        }
        let metric = String(match.output[1].substring ?? "")
        let value = String(match.output[3].substring ?? "")
        if Double(value) == nil && !["NaN", "+Inf", "-Inf"].contains(value) { problems.append("not a number: \(line)") }
        let family = types[metric] != nil ? metric : ["_bucket", "_sum", "_count"].compactMap { suffix in
            metric.hasSuffix(suffix) ? String(metric.dropLast(suffix.count)) : nil
        }.first { types[$0] != nil }
        if family == nil { problems.append("sample before its # TYPE line: \(line)") }
    }
    return (problems, types)
}

// Serialized: a MongoDB server, a gateway process and gateways, one at a time.
@Suite(.serialized) struct HealthEndpointTests {
    @Test func healthzAnswersExactlyStatusOk() async throws {
        try await withGateway(.sqlite) { gateway in
            let health = try await gateway.client.get("/healthz")
            #expect(health.status == 200 && health.text == #"{"status":"ok"}"#)
            #expect(health.header("Content-Type")?.hasPrefix("application/json") == true)
        }
    }

    /// ShotGrid up: ok with no checks; ShotGrid gone: still 200 (tokens still verify), degraded,
    /// naming the provider and nothing else.
    @Test func readyzIsOkThenDegradedNamingTheProviderWhenShotGridIsDown() async throws {
        try await withShotGridGateway(.sqlite) { gateway, fake in
            // On a busy machine the first probe of ShotGrid may time out: poll until it answers.
            let ok = #"{"status":"ok","checks":{}}"#
            let ready = try await eventually(within: 10, until: { $0.text == ok }) { try await gateway.client.get("/readyz") }
            #expect(ready.status == 200 && ready.text == ok)
            #expect(ready.header("Content-Type")?.hasPrefix("application/json") == true)
            await fake.stop()
            // Readiness is cached for a moment: poll until a fresh check sees ShotGrid gone.
            let degraded = try await eventually(within: 10, until: { $0.text != ready.text }) { try await gateway.client.get("/readyz") }
            #expect(degraded.status == 200 && degraded.text == #"{"status":"degraded","checks":{"provider":"failing"}}"#)
        }
    }

    /// MongoDB stopped under a running gateway: 503 unavailable, naming the store and the stale
    /// revocation view, once the fail-static window has passed; every answer on the way is 200
    /// for ok or degraded and 503 only for unavailable.
    @Test(.enabled(if: MongoEcoServer.isAvailable, Comment(rawValue: MongoEcoServer.unavailableReason)))
    func readyzIs503UnavailablePastTheFailStaticWindow() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        let mongo = try MongoEcoServer(directory: directory)
        try await finally({
            try await mongo.start()
            var config = GatewayConfig.forTest(store: mongo.uri, directory: directory)
            config.storeTimeout = 1
            // Longer than readiness caches its checks (2 s) plus a ping's timeout, so the store's
            // own check has failed by the time the view is stale.
            config.storeFailStatic = 4
            let gateway = try await TestGateway.start(config)
            try await finally({
                let ok = #"{"status":"ok","checks":{}}"#
                let ready = try await eventually(within: 10, until: { $0.text == ok }) { try await gateway.client.get("/readyz") }
                #expect(ready.status == 200 && ready.text == ok)
                await mongo.stop()
                let unavailable = #"{"status":"unavailable","checks":{"store":"failing","revocation_view":"failing"}}"#
                var seen: [TestResponse] = []
                let last = try await eventually(within: 20, until: { $0.text == unavailable }) {
                    let answer = try await gateway.client.get("/readyz")
                    seen.append(answer)
                    return answer
                }
                #expect(last.status == 503 && last.text == unavailable)
                for answer in seen {
                    let status = answer.json["status"] as? String
                    #expect(answer.json["checks"] is [String: Any], "\(answer.text)")
                    #expect(answer.status == (status == "unavailable" ? 503 : 200) && ["ok", "degraded", "unavailable"].contains(status), "\(answer.status) \(answer.text)")
                }
                #expect(seen.contains { $0.text == #"{"status":"degraded","checks":{"store":"failing"}}"# }, "\(seen.map(\.text))")
            }, { await gateway.stop() })
        }, {
            await mongo.stop()
            TestEnvironment.remove(directory)
        })
    }

    /// The real binary (which bootstraps Prometheus): /metrics is valid text exposition and
    /// declares the pool's gauge and counters, every eviction reason included, before any
    /// upstream connection was made.
    @Test func metricsArePrometheusTextWithThePoolGaugeAndCounters() async throws {
        try await withGatewayProcess([]) { gateway in
            #expect(try await gateway.client.postJSON("/auth/login", ["username": "alice", "password": "correct-horse-1"]).status == 200)
            let metrics = try await gateway.client.get("/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
            let (problems, types) = prometheusProblems(metrics.text)
            #expect(problems.isEmpty, "\(problems)\n\(metrics.text)")
            #expect(types["authgate_upstream_pool_entries"] == "gauge", "\(metrics.text)")
            for counter in ["authgate_upstream_pool_hits_total", "authgate_upstream_pool_misses_total", "authgate_upstream_pool_evictions_total"] {
                #expect(types[counter] == "counter", "\(counter) in\n\(metrics.text)")
            }
            let lines = Set(metrics.text.split(separator: "\n").map(String.init))
            for line in [
                "authgate_upstream_pool_hits_total 0", "authgate_upstream_pool_misses_total 0",
            ] + ["lru", "idle", "logout", "revoked"].map({ #"authgate_upstream_pool_evictions_total{reason="\#($0)"} 0"# }) {
                #expect(lines.contains(line), "missing \(line) in\n\(metrics.text)")
            }
            #expect(lines.contains { $0.hasPrefix("authgate_upstream_pool_entries ") && Double($0.split(separator: " ")[1]) == 0 }, "\(metrics.text)")
        }
    }

    /// Request metrics keep Hummingbird's names and labels (dashboards are written against them),
    /// and a method outside the standard nine is counted as `_OTHER`, never as a label of its own.
    @Test func requestMetricsCountEachRouteAndFoldOtherMethods() async throws {
        try await withGatewayProcess([]) { gateway in
            #expect(try await gateway.client.get("/auth/verify").status == 401)
            #expect(try await gateway.client.get("/no-such-path").status == 404)
            for method in ["PROPFIND", "MKCOL"] { #expect(try await gateway.client.send(method, "/auth/verify").status == 404) }
            let text = try await gateway.client.get("/metrics").text
            let lines = text.split(separator: "\n").map(String.init)
            func sample(_ prefix: String) -> Double? {
                lines.first { $0.hasPrefix(prefix) }.flatMap { Double($0.split(separator: " ").last ?? "") }
            }
            let verify = #"http_route="/auth/verify",http_request_method="GET""#
            #expect(sample(#"hb_requests{\#(verify),http_response_status_code="401"} "#) == 1, "\(text)")
            #expect(sample(#"http_server_request_duration_count{\#(verify),http_response_status_code="401"} "#) == 1, "\(text)")
            // A route the router does not know throws: counted as an error too.
            #expect(sample(#"hb_request_errors{http_route="NotFound",http_request_method="GET",error_type="404"} "#) == 1, "\(text)")
            #expect(sample(#"hb_requests{http_route="NotFound",http_request_method="_OTHER",http_response_status_code="404"} "#) == 2, "\(text)")
            #expect(!text.contains("PROPFIND") && !text.contains("MKCOL"), "\(text)")
        }
    }
}
