// HardeningTests: the review's smaller findings, each pinned: the ShotGrid circuit breaker,
// http:// ShotGrid URLs, the local password policy and login characters, secrets on the command
// line, and users set-password.
@testable import AuthGate
import AuthGateTesting
import Foundation
import Testing

@Suite struct HardeningTests {
    @Test func circuitOpensAfterRepeatedFailuresAndClosesAfterATrial() {
        let breaker = CircuitBreaker(name: "test", threshold: 3, cooldown: 10)
        let t0 = Date()
        for _ in 0..<2 {
            #expect(breaker.allow(now: t0))
            breaker.recordFailure(now: t0)
        }
        #expect(breaker.state == .closed)
        breaker.recordFailure(now: t0)
        #expect(breaker.isOpen(now: t0) && !breaker.allow(now: t0.addingTimeInterval(9)))
        #expect(breaker.allow(now: t0.addingTimeInterval(10)))  // the one trial
        #expect(!breaker.allow(now: t0.addingTimeInterval(10)))  // others wait for it
        breaker.recordFailure(now: t0.addingTimeInterval(10))
        #expect(breaker.isOpen(now: t0.addingTimeInterval(19)))
        #expect(breaker.allow(now: t0.addingTimeInterval(20)))
        breaker.recordSuccess()
        #expect(breaker.state == .closed && breaker.allow(now: t0.addingTimeInterval(20)))
    }

    /// ShotGrid down: after five failures logins are answered 503 at once without reaching it,
    /// /readyz says the provider is failing; after the cooldown a trial call closes the circuit.
    @Test func shotGridCircuitAnswers503AtOnceAndRecovers() async throws {
        try await withShotGridGateway(.sqlite, configure: {
            $0.upstreamTimeout = 1
            $0.shotgridCircuitCooldown = 3
        }) { gateway, fake in
            let credentials = ["username": "alice", "password": "wonderland-pass"]
            fake.behaviour = .serverError
            for _ in 0..<5 { #expect(try await gateway.client.postJSON("/auth/login", credentials).status == 503) }
            let reached = fake.receivedRequests.count
            let refused = try await gateway.client.postJSON("/auth/login", credentials)
            #expect(refused.status == 503 && refused.errorCode == "upstream_unavailable")
            #expect(fake.receivedRequests.count == reached, "the open circuit still called ShotGrid")
            let ready = try await eventually(within: 5, until: { $0.contains("provider") }) { try await gateway.client.get("/readyz").text }
            #expect(ready.contains(#""provider":"failing""#))
            fake.behaviour = .normal
            let status = try await statusWithin(10, becomes: 200) { try await gateway.client.postJSON("/auth/login", credentials).status }
            #expect(status == 200)
            #expect(fake.receivedRequests.count > reached)
        }
    }

    @Test(arguments: [
        ("https://site.shotgrid.autodesk.com", ShotGridURLPolicy.secure), ("http://127.0.0.1:9000", .insecureLoopback),
        ("http://[::1]:9000", .insecureLoopback), ("http://localhost/x", .insecureLoopback), ("http://10.0.0.5", .insecureRemote),
        ("http://site.example", .insecureRemote), ("ftp://site.example", .invalid), ("site.example", .invalid),
    ])
    func shotGridURLPolicy(_ url: String, _ expected: ShotGridURLPolicy) {
        #expect(ShotGridURLPolicy.check(url) == expected)
    }

    @Test func plainHTTPShotGridElsewhereNeedsTheOperatorsSay() async throws {
        await #expect(throws: ConfigError.self) {
            _ = try await GatewayConfig.load(flags: ["provider": "shotgrid", "shotgrid-url": "http://sg.example"], environment: [:], file: nil)
        }
        let allowed = try await GatewayConfig.load(
            flags: ["provider": "shotgrid", "shotgrid-url": "http://sg.example", "shotgrid-allow-insecure": "true"], environment: [:], file: nil)
        #expect(allowed.warnings.count == 1)
        let local = try await GatewayConfig.load(flags: ["provider": "shotgrid", "shotgrid-url": "http://127.0.0.1:1"], environment: [:], file: nil)
        #expect(local.warnings.count == 1)
        let secure = try await GatewayConfig.load(flags: ["provider": "shotgrid", "shotgrid-url": "https://sg.example"], environment: [:], file: nil)
        #expect(secure.warnings.isEmpty)
    }

    @Test func loginsAndPasswordsFollowTheLocalPolicy() {
        for bad in ["", "admin\u{0}x", "ad\nmin", " admin", "admin ", String(repeating: "a", count: 257), "ad\u{7F}min"] {
            #expect(throws: SessionError.self, "\(bad.debugDescription)") { try LocalUsers.check(login: bad) }
        }
        #expect(throws: Never.self) { try LocalUsers.check(login: "jean-luc.picard@example.com") }
        #expect(throws: SessionError.self) { try LocalUsers.check(password: Secret("elevenchars")) }
        #expect(throws: Never.self) { try LocalUsers.check(password: Secret("twelve chars")) }
    }

    @Test(arguments: TestStoreKind.testable)
    func loginWithAControlCharacterIsRefusedNotTruncated(_ kind: TestStoreKind) async throws {
        try await withGateway(kind) { gateway in
            let nul = try await gateway.client.postJSON("/auth/login", ["username": "alice\u{0}x", "password": "correct-horse-1"])
            #expect(nul.status == 400 && nul.errorCode == "invalid_request")
            #expect(try await gateway.components.store.user(login: "alice\u{0}x") == nil)
        }
    }

    @Test func setPasswordReplacesItAndEndsTheSessions() async throws {
        try await withGateway(.sqlite) { gateway in
            let access = try await accessToken(gateway)
            let changed = try await gateway.cli.run(["users", "set-password", "alice", "--password-stdin"], stdin: "a-brand-new-password\n")
            let changedAt = Date()
            #expect(changed.status == 0, "\(changed)")
            #expect(try await gateway.statusAfterRevocation(writtenAt: changedAt) { try await gateway.client.get("/auth/me", bearer: access).status } == 401)
            #expect(try await login(gateway).status == 401)
            #expect(try await login(gateway, "alice", "a-brand-new-password").status == 200)
            #expect(try await gateway.cli.run(["users", "set-password", "alice", "--password-stdin"], stdin: "short\n").status == 2)
            #expect(try await gateway.cli.run(["users", "set-password", "nobody", "--password-stdin"], stdin: "a-brand-new-password\n").status == 1)
        }
    }

    @Test func secretsOnTheCommandLineAreWarnedAbout() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        try await finally({
            let result = try await OperatorCLI(store: "sqlite:\(directory)/a.db", keysPath: "\(directory)/k.json").run([
                "config", "check", "--jwt-secret", String(repeating: "x", count: 40), "--store", "mongodb://user:hunter2@db.example/authgate",
            ])
            #expect(result.status == 0)
            #expect(result.stderr.contains("--jwt-secret") && result.stderr.contains("AUTHGATE_JWT_SECRET") && result.stderr.contains("--store"))
            #expect(!result.stderr.contains("hunter2") && !result.stdout.contains("hunter2"))
        }, { TestEnvironment.remove(directory) })
    }
}
