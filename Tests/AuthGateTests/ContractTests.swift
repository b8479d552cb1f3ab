// ContractTests: session rules of the contract not pinned elsewhere: concurrent refreshes of one
// session, logout by refresh token and by cookie, and allowed origins on cookie requests.
@testable import AuthGate
import AuthGateTesting
import Foundation
import Testing

func refresh(_ gateway: TestGateway, _ token: String) async throws -> TestResponse {
    try await gateway.client.postJSON("/auth/refresh", ["refresh_token": token])
}

/// Runs every request at once and returns the answers in the order of `tokens`.
func refreshAtOnce(_ gateway: TestGateway, _ tokens: [String]) async throws -> [TestResponse] {
    try await withThrowingTaskGroup(of: (Int, TestResponse).self) { group in
        for (index, token) in tokens.enumerated() { group.addTask { (index, try await refresh(gateway, token)) } }
        var answers: [TestResponse?] = Array(repeating: nil, count: tokens.count)
        for try await (index, answer) in group { answers[index] = answer }
        return answers.compactMap { $0 }
    }
}

/// Equal to the millisecond (MongoDB keeps dates in milliseconds).
func sameInstant(_ a: Date?, _ b: Date) -> Bool { a.map { abs($0.timeIntervalSince(b)) < 0.002 } ?? false }

// Serialized: each test starts gateways and hashes passwords; run side by side they would take
// the cores from other suites' 1 s deadlines.
@Suite(.serialized) struct ContractTests {
    // MARK: Concurrent refreshes

    /// Eight tabs of one session, each with its own live refresh token, refresh at the same
    /// moment: the compare-and-set on the version serialises them, every one rotates its token,
    /// the version only moves forward (one step per refresh) and nothing answers 5xx.
    @Test(arguments: TestStoreKind.testable)
    func concurrentRefreshesWithDistinctTokensAllRotateAndVersionsOnlyMoveForward(_ kind: TestStoreKind) async throws {
        try await withGateway(kind) { gateway in
            let signedIn = try await login(gateway).json
            let sid = try #require(signedIn["session_id"] as? String)
            // Each token rotated and given its one sibling: 1 → 2 → 4 → 8 live tokens.
            var tokens = [try #require(signedIn["refresh_token"] as? String)]
            for _ in 0..<3 {
                var next: [String] = []
                for token in tokens {
                    for _ in 0..<2 {
                        let answer = try await refresh(gateway, token)
                        try #require(answer.status == 200, "\(answer.status) \(answer.text)")
                        next.append(try #require(answer.json["refresh_token"] as? String))
                    }
                }
                tokens = next
            }
            let store = gateway.components.store
            let before = try #require(try await store.session(id: sid, now: Date()))
            #expect(Set(before.refreshTokens.filter { $0.retiredAt == nil }.map(\.hash)) == Set(tokens.map(RefreshToken.hash)))

            // A reader watches the version while the refreshes race.
            let watcher = Task { () -> [Int64] in
                var seen: [Int64] = []
                while !Task.isCancelled {
                    if let version = try? await store.session(id: sid, now: Date())?.version { seen.append(version) }
                    try? await Task.sleep(for: .milliseconds(20))
                }
                return seen
            }
            let answers = try await refreshAtOnce(gateway, tokens)
            watcher.cancel()
            let seen = await watcher.value

            #expect(answers.allSatisfy { $0.status < 500 }, "\(answers.map { "\($0.status) \($0.text)" })")
            // Every token was live and distinct: each refresh must rotate it.
            #expect(answers.map(\.status) == Array(repeating: 200, count: tokens.count), "\(answers.map { "\($0.status) \($0.text)" })")
            #expect(zip(seen, seen.dropFirst()).allSatisfy { $0 <= $1 }, "versions seen: \(seen)")
            let after = try #require(try await store.session(id: sid, now: Date()))
            #expect(after.version == before.version + Int64(answers.filter { $0.status == 200 }.count))
            #expect(after.revokedAt == nil)

            // Consistent afterwards: the presented tokens are retired, the new ones live and usable.
            let fresh = answers.compactMap { $0.json["refresh_token"] as? String }
            let live = Set(after.refreshTokens.filter { $0.retiredAt == nil }.map(\.hash))
            #expect(live == Set(fresh.map(RefreshToken.hash)))
            #expect(tokens.allSatisfy { token in after.refreshTokens.contains { $0.hash == RefreshToken.hash(token) && $0.retiredAt != nil } })
            for token in fresh { #expect(try await refresh(gateway, token).status == 200) }
            let access = try #require(answers.last?.json["access_token"] as? String)
            #expect(try await gateway.client.get("/auth/me", bearer: access).status == 200)
            #expect((try await gateway.client.get("/auth/sessions", bearer: access).json["sessions"] as? [[String: Any]])?.count == 1)
        }
    }

    /// Two tabs refresh with the same token at the same moment: one rotation and one sibling,
    /// both answered 200, both new tokens usable, the session alive.
    @Test(arguments: TestStoreKind.testable)
    func twoRefreshesWithTheSameTokenAtOnceGetARotationAndASibling(_ kind: TestStoreKind) async throws {
        try await withGateway(kind) { gateway in
            let signedIn = try await login(gateway).json
            let r0 = try #require(signedIn["refresh_token"] as? String)
            let sid = try #require(signedIn["session_id"] as? String)
            let answers = try await refreshAtOnce(gateway, [r0, r0])
            #expect(answers.map(\.status) == [200, 200], "\(answers.map(\.text))")
            let fresh = answers.compactMap { $0.json["refresh_token"] as? String }
            #expect(Set(fresh).count == 2)
            let session = try #require(try await gateway.components.store.session(id: sid, now: Date()))
            let presented = try #require(session.refreshTokens.first { $0.hash == RefreshToken.hash(r0) })
            #expect(presented.retiredAt != nil && presented.siblingIssued && session.revokedAt == nil)
            for token in fresh { #expect(try await refresh(gateway, token).status == 200) }
        }
    }

    /// Three showings of one token at the same moment: a rotation, a sibling, and a copy in
    /// use, which ends the session (whichever request comes third).
    @Test(arguments: TestStoreKind.testable)
    func threeRefreshesWithTheSameTokenAtOnceEndTheSession(_ kind: TestStoreKind) async throws {
        try await withGateway(kind) { gateway in
            let signedIn = try await login(gateway).json
            let r0 = try #require(signedIn["refresh_token"] as? String)
            let access = try #require(signedIn["access_token"] as? String)
            let answers = try await refreshAtOnce(gateway, [r0, r0, r0])
            #expect(answers.map(\.status).sorted() == [200, 200, 401], "\(answers.map(\.text))")
            #expect(answers.first { $0.status == 401 }?.errorCode == "invalid_grant")
            #expect(try await statusWithin(1, becomes: 401) { try await gateway.client.get("/auth/me", bearer: access).status } == 401)
            for token in answers.compactMap({ $0.json["refresh_token"] as? String }) {
                #expect(try await refresh(gateway, token).status == 401)
            }
        }
    }

    // MARK: Logout by refresh token

    @Test(arguments: TestStoreKind.testable)
    func logoutWithTheRefreshTokenInTheBodyEndsTheSession(_ kind: TestStoreKind) async throws {
        try await withGateway(kind) { gateway in
            let signedIn = try await login(gateway).json
            let access = try #require(signedIn["access_token"] as? String)
            let token = try #require(signedIn["refresh_token"] as? String)
            let out = try await gateway.client.postJSON("/auth/logout", ["refresh_token": token])
            #expect(out.status == 204 && out.body.isEmpty)
            #expect(out.header("Set-Cookie")?.hasPrefix("authgate_refresh=;") == true)
            #expect(out.header("Set-Cookie")?.contains("Max-Age=0") == true && out.header("Set-Cookie")?.contains("Path=/auth") == true)
            #expect(try await statusWithin(1, becomes: 401) { try await gateway.client.get("/auth/me", bearer: access).status } == 401)
            let again = try await refresh(gateway, token)
            #expect(again.status == 401 && again.errorCode == "invalid_grant")
            // Idempotent: the same token again, and a token nobody issued.
            #expect(try await gateway.client.postJSON("/auth/logout", ["refresh_token": token]).status == 204)
            #expect(try await gateway.client.postJSON("/auth/logout", ["refresh_token": RefreshToken.generate().value]).status == 204)
        }
    }

    @Test(arguments: TestStoreKind.testable)
    func logoutByTheRefreshCookieNeedsTheCSRFHeaderAndAnAllowedOrigin(_ kind: TestStoreKind) async throws {
        try await withGateway(kind) { gateway in
            let signedIn = try await login(gateway)
            let access = try #require(signedIn.json["access_token"] as? String)
            let token = try #require(signedIn.header("Set-Cookie").flatMap(refreshCookieValue))
            let cookie = "authgate_refresh=\(token)"
            func me() async throws -> Int { try await gateway.client.get("/auth/me", bearer: access).status }

            let noHeader = try await gateway.client.send("POST", "/auth/logout", headers: ["Cookie": cookie])
            #expect(noHeader.status == 403 && noHeader.errorCode == "access_denied")
            let foreign = try await gateway.client.send(
                "POST", "/auth/logout", headers: ["Cookie": cookie, "X-Authgate-CSRF": "1", "Origin": "https://evil.example"])
            #expect(foreign.status == 403 && foreign.errorCode == "access_denied")
            let wrongValue = try await gateway.client.send("POST", "/auth/logout", headers: ["Cookie": cookie, "X-Authgate-CSRF": "yes"])
            #expect(wrongValue.status == 403)
            #expect(try await me() == 200, "a refused logout must leave the session alive")

            let out = try await gateway.client.send("POST", "/auth/logout", headers: ["Cookie": cookie, "X-Authgate-CSRF": "1"])
            #expect(out.status == 204 && out.header("Set-Cookie")?.contains("Max-Age=0") == true)
            #expect(try await statusWithin(1, becomes: 401) { try await me() } == 401)
            #expect(try await refresh(gateway, token).status == 401)
        }
    }

    @Test func logoutWithNothingAtAllIs204AndClearsTheCookie() async throws {
        try await withGateway(.sqlite) { gateway in
            let out = try await gateway.client.send("POST", "/auth/logout")
            #expect(out.status == 204 && out.body.isEmpty)
            #expect(out.header("Set-Cookie")?.hasPrefix("authgate_refresh=;") == true && out.header("Set-Cookie")?.contains("Max-Age=0") == true)
        }
    }

    // MARK: Allowed origins

    /// An origin in `allowed-origins`, and the gateway's own, may log in, refresh by cookie and
    /// log out by cookie; a look-alike of the allowed one may not.
    @Test func allowedAndOwnOriginsMayLogInAndUseTheRefreshCookie() async throws {
        let allowed = "https://app.example"
        try await withGateway(.sqlite, configure: { $0.allowedOrigins = [allowed, "http://localhost:8000"] }) { gateway in
            let own = "http://127.0.0.1:\(gateway.port)"
            for origin in [allowed, own] {
                let signedIn = try await gateway.client.postJSON("/auth/login", ["username": "alice", "password": "correct-horse-1"], headers: ["Origin": origin])
                #expect(signedIn.status == 200, "\(origin): \(signedIn.text)")
                let first = try #require(signedIn.header("Set-Cookie").flatMap(refreshCookieValue))
                let refreshed = try await gateway.client.send(
                    "POST", "/auth/refresh", headers: ["Cookie": "authgate_refresh=\(first)", "X-Authgate-CSRF": "1", "Origin": origin])
                #expect(refreshed.status == 200 && refreshed.json["access_token"] is String && refreshed.json["refresh_token"] == nil, "\(origin): \(refreshed.text)")
                if origin == allowed {
                    #expect(refreshed.header("Access-Control-Allow-Origin") == allowed && refreshed.header("Access-Control-Allow-Credentials") == "true")
                }
                let second = try #require(refreshed.header("Set-Cookie").flatMap(refreshCookieValue))
                let access = try #require(refreshed.json["access_token"] as? String)
                let out = try await gateway.client.send(
                    "POST", "/auth/logout", headers: ["Cookie": "authgate_refresh=\(second)", "X-Authgate-CSRF": "1", "Origin": origin])
                #expect(out.status == 204, "\(origin): \(out.text)")
                #expect(try await statusWithin(1, becomes: 401) { try await gateway.client.get("/auth/me", bearer: access).status } == 401)
            }
            let token = try #require(try await login(gateway).header("Set-Cookie").flatMap(refreshCookieValue))
            for lookAlike in ["http://app.example", "https://app.example:8443", "https://app.example.evil.example", "http://127.0.0.1:\(gateway.port + 1)", "null"] {
                let refused = try await gateway.client.send(
                    "POST", "/auth/refresh", headers: ["Cookie": "authgate_refresh=\(token)", "X-Authgate-CSRF": "1", "Origin": lookAlike])
                #expect(refused.status == 403 && refused.errorCode == "access_denied", "\(lookAlike)")
            }
        }
    }
}
