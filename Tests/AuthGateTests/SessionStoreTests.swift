// SessionStoreTests: one suite, run against both stores: they must hold the same data and
// behave the same.
@testable import AuthGate
import AuthGateTesting
import Foundation
import Testing

func sampleSession(id: String = Identifier.random(), userID: String = "u1", login: String = "alice", now: Date = Date(), hash: String = "h1") -> SessionRecord {
    SessionRecord(
        id: id, user: UserProfile(id: userID, login: login, email: "a@example.com", name: "Alice", upstreamID: .number(42)),
        provider: "shotgrid", upstream: SealedBox(keyID: "k", nonce: [1, 2, 3], ciphertext: [4, 5, 6]),
        refreshTokens: [RefreshTokenEntry(hash: hash, issuedAt: now)], createdAt: now, lastSeenAt: now,
        idleExpiresAt: now.addingTimeInterval(3600), expiresAt: now.addingTimeInterval(7200), clientIP: "127.0.0.1",
        userAgent: "test")
}

@Suite struct SessionStoreTests {
    @Test(arguments: TestStoreKind.testable)
    func sessionRoundTripsAndCompareAndSetRejectsStaleWriters(_ kind: TestStoreKind) async throws {
        try await withStore(kind) { store in
            let now = Date()
            let session = sampleSession(now: now, hash: "hash-a")
            try await store.insertSession(session)
            let read = try #require(try await store.session(id: session.id, now: now))
            #expect(read.user == session.user && read.upstream == session.upstream && read.version == 1)
            #expect(abs(read.expiresAt.timeIntervalSince(session.expiresAt)) < 0.01)
            #expect(try await store.session(refreshHash: "hash-a", now: now)?.id == session.id)

            var next = read
            next.refreshTokens[0].retiredAt = now
            next.refreshTokens.append(RefreshTokenEntry(hash: "hash-b", issuedAt: now))
            next.version = 2
            #expect(try await store.updateSession(next, expectedVersion: 1))
            #expect(try await !store.updateSession(next, expectedVersion: 1))
            #expect(try await store.session(refreshHash: "hash-b", now: now)?.version == 2)
            #expect(try await store.session(refreshHash: "hash-a", now: now)?.refreshTokens.first?.retiredAt != nil)
            await #expect(throws: StoreError.duplicate) { try await store.insertSession(session) }
        }
    }

    @Test(arguments: TestStoreKind.testable)
    func expiredSessionsAreNeverReturned(_ kind: TestStoreKind) async throws {
        try await withStore(kind) { store in
            let now = Date()
            let session = sampleSession(now: now, hash: "h-exp")
            try await store.insertSession(session)
            #expect(try await store.session(id: session.id, now: now.addingTimeInterval(3601)) == nil)  // idle
            #expect(try await store.session(refreshHash: "h-exp", now: now.addingTimeInterval(7201)) == nil)
            #expect(try await store.sessions(.all, now: now.addingTimeInterval(7201)).isEmpty)
        }
    }

    @Test(arguments: TestStoreKind.testable)
    func revocationsAreListedSinceAPointInTime(_ kind: TestStoreKind) async throws {
        try await withStore(kind) { store in
            let now = Date()
            let a = sampleSession(userID: "u1", login: "alice", now: now, hash: "ha")
            let b = sampleSession(userID: "u1", login: "alice", now: now, hash: "hb")
            let c = sampleSession(userID: "u2", login: "bob", now: now, hash: "hc")
            for s in [a, b, c] { try await store.insertSession(s) }
            #expect(try await store.sessions(.login("alice"), now: now).count == 2)
            #expect(try await store.revokeSession(id: c.id, at: now))
            #expect(try await !store.revokeSession(id: c.id, at: now))
            #expect(Set(try await store.revokeSessions(.userID("u1"), at: now)) == Set([a.id, b.id]))
            try await store.revokeToken(RevokedToken(jti: "j1", sessionID: c.id, revokedAt: now, expiresAt: now.addingTimeInterval(60)))
            let (batch, cursor) = try await store.revocations(after: nil, revokedSince: now.addingTimeInterval(-60), now: now)
            #expect(Set(batch.sessions.map(\.id)) == Set([a.id, b.id, c.id]))
            #expect(batch.tokens.map(\.jti) == ["j1"])
            #expect(try await store.sessions(.all, now: now).isEmpty)

            // A writer whose clock is an hour behind (or whose work took that long) revokes after
            // the cursor was taken: the next poll still sees it, because the cursor is the store's.
            let late = sampleSession(userID: "u3", login: "carol", now: now, hash: "hd")
            try await store.insertSession(late)
            #expect(try await store.revokeSession(id: late.id, at: now.addingTimeInterval(-3600)))
            try await store.revokeToken(RevokedToken(jti: "j2", sessionID: late.id, revokedAt: now.addingTimeInterval(-3600), expiresAt: now.addingTimeInterval(60)))
            let (newer, next) = try await store.revocations(after: cursor, revokedSince: now.addingTimeInterval(-60), now: now)
            #expect(newer.sessions.map(\.id).contains(late.id) && newer.tokens.map(\.jti).contains("j2"))
            #expect(next != nil)
            // Nothing new: the cursor stays where it was (never walks back, never resets to a full load).
            let (nothing, same) = try await store.revocations(after: next, revokedSince: now.addingTimeInterval(-60), now: now)
            #expect(same == next)
            #expect(nothing.sessions.isEmpty || nothing.sessions.allSatisfy { [late.id, a.id, b.id, c.id].contains($0.id) })
        }
    }

    @Test(arguments: TestStoreKind.testable)
    func usersHaveUniqueLogins(_ kind: TestStoreKind) async throws {
        try await withStore(kind) { store in
            let user = UserRecord(id: "u1", login: "alice", email: "a@x", name: "A", passwordHash: "$argon2id$fake", createdAt: Date())
            try await store.insertUser(user)
            await #expect(throws: StoreError.duplicate) {
                try await store.insertUser(UserRecord(id: "u2", login: "alice", email: "", name: "", passwordHash: "x", createdAt: Date()))
            }
            #expect(try await store.user(login: "alice")?.id == "u1")
            #expect(try await store.users().map(\.login) == ["alice"])
            #expect(try await store.deleteUser(login: "alice"))
            #expect(try await store.user(login: "alice") == nil)
        }
    }

    @Test(arguments: TestStoreKind.testable)
    func loginCountersAreAtomicWindowedAndBansListAndClear(_ kind: TestStoreKind) async throws {
        try await withStore(kind) { store in
            let now = Date()
            func count(_ keys: [String], at time: Date = now) async throws -> [Int] {
                try await store.countLoginAttempts(keys: keys, window: 60, now: time).map(\.count)
            }
            // Concurrent attempts each get their own count: no two read the same value.
            let counts = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<20 { group.addTask { try await count(["user:a", "ip:10.0.0.9"])[0] } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(counts.sorted() == Array(1...20))
            // Keys are counted each on its own, answered in the order asked.
            #expect(try await count(["ip:10.0.0.9", "user:new", "user:a"]) == [21, 1, 21])
            try await store.takeBackLoginAttempts(undo: ["user:a", "user:a"], reset: [])
            #expect(try await count(["user:a"]) == [20])
            // Past the window the counter starts again, in one call whatever the count was.
            #expect(try await count(["user:a", "user:new"], at: now.addingTimeInterval(61)) == [1, 1])
            try await store.takeBackLoginAttempts(undo: ["ip:10.0.0.9"], reset: ["user:a"])
            #expect(try await count(["user:a", "ip:10.0.0.9"]) == [1, 21])

            try await store.banLogin(key: "ip:10.0.0.1", until: now.addingTimeInterval(30))
            try await store.banLogin(key: "user:b", until: now.addingTimeInterval(30))
            // A count reports the ban in force, and only while it is.
            let banned = try await store.countLoginAttempts(keys: ["user:c", "ip:10.0.0.1"], window: 60, now: now)
            #expect(banned.map { $0.bannedUntil != nil } == [false, true])
            #expect(banned[1].bannedUntil! > now.addingTimeInterval(29))
            let later = try await store.countLoginAttempts(keys: ["ip:10.0.0.1"], window: 60, now: now.addingTimeInterval(31))
            #expect(later == [LoginAttemptCount(count: 1, bannedUntil: nil)])
            try await store.takeBackLoginAttempts(undo: [], reset: ["user:b"])  // a success does not lift a ban
            #expect(try await store.loginBans(now: now).map(\.key) == ["user:b"])
            try await store.banLogin(key: "ip:10.0.0.1", until: now.addingTimeInterval(30))
            #expect(try await store.loginBans(now: now).map(\.key) == ["ip:10.0.0.1", "user:b"])
            #expect(try await store.clearLoginBans(key: "user:b", now: now) == 1)
            #expect(try await store.countLoginAttempts(keys: ["user:b"], window: 60, now: now).first?.bannedUntil == nil)
            #expect(try await store.clearLoginBans(key: nil, now: now) == 1)
            #expect(try await store.loginBans(now: now).isEmpty)
        }
    }

    @Test(arguments: TestStoreKind.testable)
    func aLoginWithAnEmbeddedNULIsMatchedExactly(_ kind: TestStoreKind) async throws {
        try await withStore(kind) { store in
            let now = Date()
            try await store.insertUser(UserRecord(id: "u-admin", login: "admin", email: "", name: "", passwordHash: "x", createdAt: now))
            #expect(try await store.user(login: "admin\u{0}x") == nil)
            // A distinct login, not a duplicate of "admin", and read back whole.
            try await store.insertUser(UserRecord(id: "u-nul", login: "admin\u{0}x", email: "", name: "", passwordHash: "y", createdAt: now))
            #expect(try await store.user(login: "admin\u{0}x")?.id == "u-nul")
            #expect(try await store.user(login: "admin")?.id == "u-admin")
            #expect(try await store.users().map(\.login).sorted() == ["admin", "admin\u{0}x"])
        }
    }
}
