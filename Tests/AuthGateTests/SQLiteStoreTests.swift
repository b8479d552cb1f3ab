// SQLiteStoreTests: what only the embedded store has: its connection pool under concurrent reads
// and writes, the statement cache, file modes, the expiry sweep and a clean close.
@testable import AuthGate
import AuthGateTesting
import Foundation
import Testing

/// An SQLite store in a fresh folder, closed and removed afterwards.
private func withSQLiteStore(
    readers: Int = SQLiteConnectionPool.defaultReaderCount, purgeInterval: TimeInterval = 60,
    _ body: (SQLiteSessionStore, _ path: String) async throws -> Void
) async throws {
    let directory = try TestEnvironment.temporaryDirectory()
    defer { TestEnvironment.remove(directory) }
    let path = directory + "/authgate.db"
    let store = try SQLiteSessionStore(path: path, timeout: 3, readers: readers, purgeInterval: purgeInterval)
    try await finally({
        try await store.migrate()
        try await body(store, path)
    }, { await store.close() })
}

private func mode(_ path: String) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return try #require(attributes[.posixPermissions] as? Int) & 0o777
}

@Suite struct SQLiteStoreTests {
    @Test func readersSeeWholeRecordsWithVersionsOnlyMovingForwardWhileWritersUpdate() async throws {
        try await withSQLiteStore(readers: 4) { store, _ in
            let start = Date()
            var first = sampleSession(now: start, hash: "h-0")
            first.userAgent = "agent-1"
            try await store.insertSession(first)
            let id = first.id, user = first.user
            let writers = 4, updatesPerWriter = 25, readers = 16

            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        var done = 0
                        while done < updatesPerWriter {
                            // Compare-and-set: read, change every field that carries the version, write back.
                            var next = try #require(try await store.session(id: id, now: start))
                            let expected = next.version
                            next.version = expected + 1
                            next.userAgent = "agent-\(next.version)"
                            next.lastSeenAt = start.addingTimeInterval(Double(next.version))
                            next.refreshTokens = [RefreshTokenEntry(hash: "h-\(writer)-\(done)", issuedAt: start)]
                            if try await store.updateSession(next, expectedVersion: expected) { done += 1 }
                        }
                    }
                }
                for _ in 0..<readers {
                    group.addTask {
                        var lastVersion: Int64 = 0
                        for _ in 0..<60 {
                            let read = try #require(try await store.session(id: id, now: start))
                            #expect(read.version >= lastVersion)
                            #expect(read.userAgent == "agent-\(read.version)")
                            if read.version > 1 {
                                #expect(read.lastSeenAt.timeIntervalSince(start).rounded() == Double(read.version))
                            }
                            #expect(read.refreshTokens.count == 1 && read.user == user)
                            lastVersion = read.version
                        }
                    }
                }
                try await group.waitForAll()
            }
            let last = try #require(try await store.session(id: id, now: start))
            #expect(last.version == Int64(1 + writers * updatesPerWriter))
            #expect(try await store.session(refreshHash: "h-0", now: start) == nil)
            #expect(try await store.session(refreshHash: last.refreshTokens[0].hash, now: start)?.id == id)
        }
    }

    @Test func preparedStatementsAreCachedAndStayBoundedOverRepeatedQueries() async throws {
        try await withSQLiteStore { store, _ in
            let now = Date()
            var session = sampleSession(now: now, hash: "h-cache")
            try await store.insertSession(session)
            try await store.insertUser(UserRecord(id: "u1", login: "alice", email: "", name: "", passwordHash: "x", createdAt: now))
            for _ in 0..<1000 {
                #expect(try await store.session(id: session.id, now: now) != nil)
                #expect(try await store.user(login: "alice") != nil)
                _ = try await store.loginBans(now: now)
                _ = try await store.sessions(.login("alice"), now: now)
            }
            for _ in 0..<200 {
                session.version += 1
                #expect(try await store.updateSession(session, expectedVersion: session.version - 1))
            }
            // Each connection prepared each statement text once: the writer ~10 (BEGIN, COMMIT, the
            // sweep, inserts, updates), a reader at most 4; not thousands. Nothing SQLite holds
            // open escaped the cache.
            let counts = store.connections.connections.map(\.cachedStatementCount)
            #expect(counts.allSatisfy { $0 <= 12 }, "cached statements per connection: \(counts)")
            #expect(counts.reduce(0, +) >= 4)
            for connection in store.connections.connections {
                #expect(connection.openStatementCount == connection.cachedStatementCount)
            }
        }
    }

    @Test func aConnectionPreparesEachTextOnceAndResetsItAfterUse() async throws {
        try await withSQLiteStore { store, _ in
            let total = try await store.connections.read { c in
                var total: Int64 = 0
                for i in 0..<1000 { total += try c.query("SELECT ?", [.integer(Int64(i))]).first?.first?.int ?? 0 }
                return total
            }
            #expect(total == 999 * 1000 / 2)
            // A reset statement holds no read snapshot: the writer can still checkpoint everything.
            let checkpoint = try await store.connections.withWriter { c in
                try c.query("PRAGMA wal_checkpoint(TRUNCATE)").first?.first?.int
            }
            #expect(checkpoint == 0)  // not busy
            let counts = store.connections.readers.map(\.cachedStatementCount)
            #expect(counts.filter { $0 == 1 }.count == 1 && counts.allSatisfy { $0 <= 1 })
        }
    }

    @Test func closeFinalizesEveryStatementAndClosesEveryConnection() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        defer { TestEnvironment.remove(directory) }
        let path = directory + "/authgate.db"
        let store = try SQLiteSessionStore(path: path, timeout: 3)
        try await finally({
            try await store.migrate()
            try await store.insertSession(sampleSession(hash: "h-close"))
            #expect(try await store.session(refreshHash: "h-close", now: Date()) != nil)
            #expect(store.connections.connections.map(\.openStatementCount).reduce(0, +) > 0)

            #expect(await store.connections.close())  // plain sqlite3_close succeeded on every handle
            let closed = store.connections.connections.map(\.isClosed)
            #expect(closed.allSatisfy { $0 })
            // The writer closed last and checkpointed: nothing is left beside the database file.
            #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
            #expect(!FileManager.default.fileExists(atPath: path + "-shm"))
            // Work after close is refused as an outage, never run on a closed handle.
            await #expect(throws: StoreError.unavailable("store closed")) { try await store.session(id: "x", now: Date()) }
            await #expect(throws: StoreError.unavailable("store closed")) { try await store.revokeSession(id: "x", at: Date()) }
        }, { await store.close() })  // and close() again is harmless
    }

    @Test func databaseAndItsWALFilesAreCreatedOwnerOnly() async throws {
        try await withSQLiteStore { store, path in
            try await store.insertSession(sampleSession(hash: "h-mode"))
            #expect(try await store.session(refreshHash: "h-mode", now: Date()) != nil)
            for file in [path, path + "-wal", path + "-shm"] {
                #expect(try mode(file) == 0o600, "\(file)")
            }
        }
    }

    @Test func anExistingDatabaseKeepsTheModeItsOperatorGaveIt() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        defer { TestEnvironment.remove(directory) }
        let path = directory + "/authgate.db"
        #expect(FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o640]))
        let store = try SQLiteSessionStore(path: path, timeout: 3)
        try await finally({
            try await store.migrate()
            try await store.insertSession(sampleSession(hash: "h-kept"))
            #expect(try mode(path) == 0o640)
            #expect(try mode(path + "-wal") == 0o640)  // SQLite copies the database file's mode
        }, { await store.close() })
    }

    @Test func insertSweepsExpiredRowsAndTheirRefreshHashesOnTheWriter() async throws {
        try await withSQLiteStore(purgeInterval: 0) { store, _ in
            let now = Date()
            let expired = sampleSession(now: now.addingTimeInterval(-10_000), hash: "h-old")
            try await store.insertSession(expired)
            try await store.revokeToken(RevokedToken(jti: "j-old", sessionID: expired.id, revokedAt: now.addingTimeInterval(-100), expiresAt: now.addingTimeInterval(-1)))
            try await store.revokeToken(RevokedToken(jti: "j-live", sessionID: expired.id, revokedAt: now, expiresAt: now.addingTimeInterval(600)))
            let live = sampleSession(now: now, hash: "h-new")
            try await store.insertSession(live)  // sweeps before it inserts

            let counts = try await store.connections.read { c in
                try ["sessions", "refresh_hashes", "revoked_tokens"].map { table in
                    try c.query("SELECT count(*) FROM \(table)").first?.first?.int ?? -1
                }
            }
            #expect(counts == [1, 1, 1])  // the expired session's refresh hash went with it (foreign keys on)
            #expect(try await store.session(refreshHash: "h-new", now: now)?.id == live.id)
        }
    }

    @Test func aMemoryDatabaseIsRefused() async throws {
        // Each connection would get its own empty database.
        await #expect(throws: StoreError.self) {
            let store = try SQLiteSessionStore(path: ":memory:", timeout: 1)
            await store.close()
        }
    }
}
