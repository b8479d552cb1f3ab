// SessionLifetimeTests: the idle lifetime moved on by each refresh, the absolute lifetime that
// still ends the session, and lifetimes counted from when the session is issued; by hand-moved
// clock and on the real clock.
@testable import AuthGate
import AuthGateTesting
import Foundation
import Testing

@Suite struct SessionLifetimeTests {
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
