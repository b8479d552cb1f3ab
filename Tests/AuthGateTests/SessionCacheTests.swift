// SessionCacheTests: /auth/me from memory: filled on login, refresh and a miss, dropped when the
// session is revoked here (at once) or on another instance (within a second), bounded, and
// last_seen_at written back at most once a minute.
@testable import AuthGate
import AuthGateTesting
import Foundation
import Testing

@Suite struct SessionCacheTests {
    @Test func boundedByCapacityAndIdleAndAge() {
        let cache = SessionCache(capacity: 2, idleTimeout: 60, maximumAge: 30)
        let now = Date()
        let sessions = (1...3).map { sampleSession(id: "s\($0)", now: now) }
        for session in sessions { cache.put(session, now: now) }
        #expect(cache.count == 2 && cache.get("s1", now: now) == nil && cache.get("s3", now: now) != nil)
        #expect(cache.get("s3", now: now.addingTimeInterval(31)) == nil)  // too old: read the store again
        cache.put(sessions[1], now: now)
        #expect(cache.get("s2", now: now.addingTimeInterval(61)) == nil)  // idle
        var revoked = sessions[0]
        revoked.revokedAt = now
        cache.put(revoked, now: now)
        #expect(cache.get("s1", now: now) == nil)
    }

    @Test(arguments: TestStoreKind.testable)
    func meIsServedFromMemoryAndFollowsRevocationEverywhere(_ kind: TestStoreKind) async throws {
        try await withGateway(kind) { first in
            let second = try await TestGateway.start(first.config)
            try await finally({
                let signedIn = try await login(first).json
                let access = try #require(signedIn["access_token"] as? String)
                let sid = try #require(signedIn["session_id"] as? String)
                #expect(first.components.sessionCache.get(sid, now: Date()) != nil)  // filled at login
                #expect(try await second.client.get("/auth/me", bearer: access).status == 200)
                #expect(second.components.sessionCache.get(sid, now: Date()) != nil)  // filled on the miss
                // Revoked on the first instance: the second drops its copy within a second.
                #expect(try await first.client.send("POST", "/auth/logout", headers: ["Authorization": "Bearer \(access)"]).status == 204)
                #expect(first.components.sessionCache.get(sid, now: Date()) == nil)
                #expect(try await first.client.get("/auth/me", bearer: access).status == 401)  // at once, here
                let dropped = try await eventually(within: 1, until: { $0 }) { second.components.sessionCache.get(sid, now: Date()) == nil }
                #expect(dropped)
                #expect(try await second.client.get("/auth/me", bearer: access).status == 401)
            }, { await second.stop() })
        }
    }

    @Test func lastSeenIsWrittenBackAtMostOnceAMinute() async throws {
        try await withGateway(.sqlite) { gateway in
            let signedIn = try await login(gateway).json
            let access = try #require(signedIn["access_token"] as? String)
            let claims = try gateway.components.issuer.jwt.verify(access)
            let directory = gateway.components.directory
            let store = gateway.components.store
            let loggedIn = try #require(try await store.session(id: claims.sid, now: Date())).lastSeenAt
            _ = try await directory.session(for: claims, now: loggedIn.addingTimeInterval(30))
            #expect(try await store.session(id: claims.sid, now: Date())?.lastSeenAt == loggedIn)
            let later = loggedIn.addingTimeInterval(61)
            let seen = try await directory.session(for: claims, now: later)
            #expect(seen.lastSeenAt == later)
            let written = try await eventually(within: 5, until: { abs(($0 ?? loggedIn).timeIntervalSince(later)) < 0.001 }) {
                try await store.session(id: claims.sid, now: Date())?.lastSeenAt
            }
            #expect(abs((written ?? loggedIn).timeIntervalSince(later)) < 0.001)
        }
    }
}

@Suite struct SessionCacheProcessTests {
    /// Two gateway processes on one store: a session revoked through the first is refused by the
    /// second's /auth/me within a second, though the second had it in memory.
    @Test func revocationReachesAnotherProcessesCacheWithinASecond() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        try await finally({
            let store = "sqlite:\(directory)/authgate.db", keys = "\(directory)/keys.json"
            _ = try await OperatorCLI(store: store, keysPath: keys).run(["users", "add", "alice", "--password-stdin"], stdin: "correct-horse-1\n")
            let first = try await GatewayProcess.start(arguments: ["serve", "--store", store, "--keys", keys])
            let second = try await GatewayProcess.start(arguments: ["serve", "--store", store, "--keys", keys])
            try await finally({
                let access = try #require(try await first.client.postJSON("/auth/login", ["username": "alice", "password": "correct-horse-1"]).json["access_token"] as? String)
                #expect(try await second.client.get("/auth/me", bearer: access).status == 200)
                #expect(try await first.client.send("POST", "/auth/logout", headers: ["Authorization": "Bearer \(access)"]).status == 204)
                #expect(try await statusWithin(1, becomes: 401) { try await second.client.get("/auth/me", bearer: access).status } == 401)
            }, {
                await first.stop()
                await second.stop()
            })
        }, { TestEnvironment.remove(directory) })
    }
}
