// ContractTests: session rules of the contract not pinned elsewhere: concurrent refreshes of one
// session, logout by refresh token and by cookie, allowed origins on cookie requests, and the
// idle and absolute lifetimes.
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

@Suite struct ContractTests {
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
                    try? await Task.sleep(for: .milliseconds(5))
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

    // MARK: Lifetimes

    /// With the clock moved by hand: each refresh moves the idle deadline on from its own moment,
    /// never past the absolute lifetime; a session left alone ends at its idle deadline.
    @Test(arguments: TestStoreKind.testable)
    func refreshMovesTheIdleDeadlineButNeverPastTheAbsoluteLifetime(_ kind: TestStoreKind) async throws {
        try await withGateway(kind, configure: {
            $0.sessionIdleTTL = 100
            $0.sessionMaxTTL = 250
        }) { gateway in
            let flow = gateway.components.refreshFlow
            let store = gateway.components.store
            let signedIn = try await login(gateway).json
            let sid = try #require(signedIn["session_id"] as? String)
            let created = try #require(try await store.session(id: sid, now: Date()))
            let t0 = created.createdAt
            #expect(sameInstant(created.idleExpiresAt, t0.addingTimeInterval(100)) && sameInstant(created.expiresAt, t0.addingTimeInterval(250)))

            let r1 = try await flow.refresh(refreshToken: try #require(signedIn["refresh_token"] as? String), now: t0.addingTimeInterval(90))
            #expect(sameInstant(try await store.session(id: sid, now: t0.addingTimeInterval(90))?.idleExpiresAt, t0.addingTimeInterval(190)))
            // Past the first idle deadline, alive thanks to the refresh.
            let r2 = try await flow.refresh(refreshToken: r1.refreshToken.value, now: t0.addingTimeInterval(180))
            let capped = try #require(try await store.session(id: sid, now: t0.addingTimeInterval(180)))
            #expect(sameInstant(capped.idleExpiresAt, capped.expiresAt))
            #expect((69...70).contains(r2.refreshExpiresIn))
            let r3 = try await flow.refresh(refreshToken: r2.refreshToken.value, now: t0.addingTimeInterval(249))
            await #expect(throws: SessionError.invalidGrant) {
                _ = try await flow.refresh(refreshToken: r3.refreshToken.value, now: t0.addingTimeInterval(250.01))
            }

            // A second session, never refreshed, ends at its own idle deadline.
            let other = try await login(gateway).json
            let otherID = try #require(other["session_id"] as? String)
            let otherToken = try #require(other["refresh_token"] as? String)
            let otherCreated = try #require(try await store.session(id: otherID, now: Date()))
            await #expect(throws: SessionError.invalidGrant) {
                _ = try await flow.refresh(refreshToken: otherToken, now: otherCreated.idleExpiresAt.addingTimeInterval(0.5))
            }
        }
    }

    /// A slow credential check (ShotGrid taking its time, or argon2id on a busy machine) does not
    /// eat into the session: its clock starts once the provider has answered, so a login slower
    /// than the idle lifetime still gives a live session.
    @Test func aSessionsLifetimesStartWhenTheProviderHasAnswered() async throws {
        try await withShotGridGateway(.sqlite, configure: { $0.upstreamTimeout = 10 }) { gateway, fake in
            fake.behaviour = .slow(seconds: 1)  // the token exchange and the identity lookup: 2 s
            let sentAt = Date()
            let signedIn = try await gateway.client.postJSON("/auth/login", ["username": "alice", "password": "wonderland-pass"])
            fake.behaviour = .normal
            try #require(signedIn.status == 200, "\(signedIn.text)")
            let sid = try #require(signedIn.json["session_id"] as? String)
            let session = try #require(try await gateway.components.store.session(id: sid, now: sentAt))
            #expect(session.createdAt >= sentAt.addingTimeInterval(1.99), "created \(session.createdAt.timeIntervalSince(sentAt)) s after the request")
            #expect(sameInstant(session.idleExpiresAt, session.createdAt.addingTimeInterval(gateway.config.sessionIdleTTL)))
            #expect(sameInstant(session.expiresAt, session.createdAt.addingTimeInterval(gateway.config.sessionMaxTTL)))
            let access = try #require(signedIn.json["access_token"] as? String)
            let claims = try gateway.components.issuer.jwt.verify(access, ignoringExpiry: true)
            #expect(Double(claims.iat) >= sentAt.addingTimeInterval(1.99).timeIntervalSince1970.rounded(.down))
        }
    }

    /// The session as stored, whatever its deadlines (a read as of long ago filters nothing out).
    func stored(_ gateway: TestGateway, _ sid: String) async throws -> SessionRecord {
        try #require(try await gateway.components.store.session(id: sid, now: .distantPast))
    }

    /// A live session kept alive by refreshes until one sent after its first idle deadline has
    /// succeeded, /auth/me answering 200 all along. Nil when it ended in a stall of this machine
    /// longer than the idle lifetime (the refusal came after its stored idle deadline); a refusal
    /// before that deadline is a failure.
    func keptPastFirstIdleDeadline(_ gateway: TestGateway) async throws -> (sid: String, access: String, token: String, firstDeadline: Date)? {
        let signedIn = try await login(gateway).json
        let sid = try #require(signedIn["session_id"] as? String)
        var access = try #require(signedIn["access_token"] as? String)
        var token = try #require(signedIn["refresh_token"] as? String)
        let firstDeadline = try await stored(gateway, sid).idleExpiresAt
        func endedLegitimately(_ answer: TestResponse) async throws -> Bool {
            let answeredAt = Date()
            let deadline = try await stored(gateway, sid).idleExpiresAt
            #expect(answeredAt.addingTimeInterval(0.002) >= deadline, "refused \(deadline.timeIntervalSince(answeredAt)) s before the idle deadline: \(answer.text)")
            return answeredAt.addingTimeInterval(0.002) >= deadline
        }
        while true {
            let sentAt = Date()
            let answer = try await refresh(gateway, token)
            guard answer.status == 200 else {
                _ = try await endedLegitimately(answer)
                return nil
            }
            token = try #require(answer.json["refresh_token"] as? String)
            access = try #require(answer.json["access_token"] as? String)
            let me = try await gateway.client.get("/auth/me", bearer: access)
            guard me.status == 200 else {
                _ = try await endedLegitimately(me)
                return nil
            }
            if sentAt > firstDeadline { return (sid, access, token, firstDeadline) }
            try await Task.sleep(for: .milliseconds(250))
        }
    }

    /// On the real clock, with a 3 s idle lifetime: refreshing keeps the session alive past its
    /// first idle deadline; once refreshes stop, /auth/me (which does not itself extend it) and
    /// the refresh token get 401. A session lost to a stall of the machine is tried again.
    @Test func refreshingKeepsAnIdleSessionAliveAndStoppingEndsIt() async throws {
        try await withGateway(.sqlite, configure: { $0.sessionIdleTTL = 3 }) { gateway in
            var kept: (sid: String, access: String, token: String, firstDeadline: Date)?
            for _ in 0..<3 where kept == nil { kept = try await keptPastFirstIdleDeadline(gateway) }
            let (sid, access, token, firstDeadline) = try #require(kept, "three sessions lost to stalls longer than the idle lifetime")
            let extended = try await stored(gateway, sid)
            #expect(extended.idleExpiresAt > firstDeadline)

            // No more refreshes: /auth/me, polled, turns 401.
            let ended = try await eventually(within: 10, until: { $0.status == 401 }) { try await gateway.client.get("/auth/me", bearer: access) }
            #expect(ended.status == 401 && ended.errorCode == "invalid_token")
            #expect(Date().addingTimeInterval(0.002) >= extended.idleExpiresAt)
            let late = try await refresh(gateway, token)
            #expect(late.status == 401 && late.errorCode == "invalid_grant")
        }
    }

    /// On the real clock: a session refreshed every quarter second (well inside its 2 s idle
    /// lifetime) still ends at its 5 s absolute lifetime, refresh and /auth/me both answering 401.
    /// A session lost to a stall of the machine before then is tried again.
    @Test func theAbsoluteLifetimeEndsASessionKeptAliveByRefreshes() async throws {
        try await withGateway(.sqlite, configure: {
            $0.sessionIdleTTL = 2
            $0.sessionMaxTTL = 5
        }) { gateway in
            var ended = false
            for _ in 0..<3 where !ended {
                let signedIn = try await login(gateway).json
                let sid = try #require(signedIn["session_id"] as? String)
                var token = try #require(signedIn["refresh_token"] as? String)
                var access = try #require(signedIn["access_token"] as? String)
                let first = try await stored(gateway, sid)
                var refreshedPastFirstDeadline = false
                while true {
                    let sentAt = Date()
                    let answer = try await refresh(gateway, token)
                    if answer.status == 200 {
                        refreshedPastFirstDeadline = refreshedPastFirstDeadline || sentAt > first.idleExpiresAt
                        token = try #require(answer.json["refresh_token"] as? String)
                        access = try #require(answer.json["access_token"] as? String)
                        try await Task.sleep(for: .milliseconds(250))
                        continue
                    }
                    let answeredAt = Date().addingTimeInterval(0.002)
                    let last = try await stored(gateway, sid)
                    #expect(answer.status == 401 && answer.errorCode == "invalid_grant", "\(answer.text)")
                    #expect(last.idleExpiresAt <= last.expiresAt && sameInstant(last.expiresAt, first.expiresAt))
                    if answeredAt >= first.expiresAt && refreshedPastFirstDeadline {
                        #expect(try await gateway.client.get("/auth/me", bearer: access).status == 401)
                        ended = true
                    } else {
                        // Ended early: only a stall past the idle deadline may explain it.
                        #expect(answeredAt >= last.idleExpiresAt, "refused \(last.idleExpiresAt.timeIntervalSince(answeredAt)) s before the idle deadline")
                    }
                    break
                }
            }
            #expect(ended, "three sessions lost to stalls longer than the idle lifetime")
        }
    }
}
