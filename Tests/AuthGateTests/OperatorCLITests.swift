// OperatorCLITests: the real `authgate` binary against a running gateway's store, on both
// stores: users, sessions and tokens commands, their effect on the running server within 1 s,
// their JSON, and the contract's exit codes (0 done, 1 not found, 2 usage, 3 store unreachable).
@testable import AuthGate
import AuthGateTesting
import Foundation
import Testing

extension TestGateway {
    /// The CLI pointed at this gateway's store and key ring, as an operator on its host would run it.
    var cli: OperatorCLI { OperatorCLI(store: config.store, keysPath: config.keysPath) }
}

/// A string field of a JWT's header (part 0) or payload (part 1), unverified: the server issued it.
func field(_ name: String, of token: String, part: Int) throws -> String {
    let bytes = try #require(Base64URL.decode(token.split(separator: ".")[part]))
    let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    return try #require(object[name] as? String)
}

@Suite struct OperatorCLITests {
    @Test(arguments: TestStoreKind.testable)
    func usersAddListRemove(_ kind: TestStoreKind) async throws {
        try await withGateway(kind) { gateway in
            let cli = gateway.cli
            let added = try await cli.run(["users", "add", "carol", "--email", "carol@example.com", "--name", "Carol C", "--password-stdin"], stdin: "carol-password-1\n")
            #expect(added.status == 0, "\(added)")
            #expect(!added.stdout.contains("carol-password-1") && !added.stderr.contains("carol-password-1"))

            let signedIn = try await login(gateway, "carol", "carol-password-1")
            #expect(signedIn.status == 200)
            #expect((signedIn.json["user"] as? [String: Any])?["email"] as? String == "carol@example.com")
            let access = try #require(signedIn.json["access_token"] as? String)

            let listed = try await cli.run(["users", "list", "--json"])
            #expect(listed.status == 0)
            #expect(Set(listed.jsonArray.compactMap { $0["login"] as? String }) == ["alice", "carol"])
            #expect(!listed.stdout.contains("argon2"))  // never the hash
            #expect(try await cli.run(["users", "list"]).stdout.contains("carol@example.com"))

            #expect(try await cli.run(["users", "add", "carol", "--password-stdin"], stdin: "another-pass-1\n").status == 2)
            #expect(try await cli.run(["users", "add", "dave", "--password-stdin"], stdin: "short\n").status == 2)
            #expect(try await cli.run(["users", "add", "dave"]).status == 2)  // stdin is no terminal

            // Removing a user revokes their sessions on the running server.
            let removed = try await cli.run(["users", "remove", "carol"])
            let removedAt = Date()
            #expect(removed.status == 0, "\(removed)")
            #expect(try await gateway.statusAfterRevocation(writtenAt: removedAt) { try await gateway.client.get("/auth/me", bearer: access).status } == 401)
            #expect(try await login(gateway, "carol", "carol-password-1").status == 401)
            #expect(try await cli.run(["users", "remove", "carol"]).status == 1)
        }
    }

    @Test(arguments: TestStoreKind.testable)
    func sessionsListAndRevoke(_ kind: TestStoreKind) async throws {
        try await withGateway(kind) { gateway in
            let cli = gateway.cli
            let first = try await login(gateway).json, second = try await login(gateway).json
            let firstID = try #require(first["session_id"] as? String), secondID = try #require(second["session_id"] as? String)
            let firstAccess = try #require(first["access_token"] as? String), secondAccess = try #require(second["access_token"] as? String)

            let listed = try await cli.run(["sessions", "list", "--user", "alice", "--json"])
            #expect(listed.status == 0, "\(listed)")
            #expect(Set(listed.jsonArray.compactMap { $0["id"] as? String }) == [firstID, secondID])
            let entry = try #require(listed.jsonArray.first)
            #expect(Set(entry.keys) == ["id", "user", "created_at", "last_seen_at", "expires_at", "client_ip", "user_agent"])
            #expect((entry["user"] as? [String: Any])?["login"] as? String == "alice")
            #expect(!listed.stdout.contains(first["refresh_token"] as? String ?? "-"))
            #expect(try await cli.run(["sessions", "list", "--user", "nobody", "--json"]).jsonArray.isEmpty)
            #expect(try await cli.run(["sessions", "list"]).stdout.contains(firstID))

            #expect(try await cli.run(["sessions", "revoke", firstID]).status == 0)
            let firstRevokedAt = Date()
            #expect(try await gateway.statusAfterRevocation(writtenAt: firstRevokedAt) { try await gateway.client.get("/auth/verify", bearer: firstAccess).status } == 401)
            #expect(try await gateway.client.get("/auth/verify", bearer: secondAccess).status == 200)
            #expect(try await gateway.client.postJSON("/auth/refresh", ["refresh_token": first["refresh_token"] as? String ?? ""]).status == 401)
            #expect(try await cli.run(["sessions", "revoke", firstID]).status == 1)

            #expect(try await cli.run(["sessions", "revoke", "--user", "alice"]).status == 0)
            let userRevokedAt = Date()
            #expect(try await gateway.statusAfterRevocation(writtenAt: userRevokedAt) { try await gateway.client.get("/auth/verify", bearer: secondAccess).status } == 401)
            #expect(try await cli.run(["sessions", "revoke", "--user", "alice"]).status == 1)
            #expect(try await cli.run(["sessions", "revoke"]).status == 2)
            #expect(try await cli.run(["sessions", "revoke", firstID, "--user", "alice"]).status == 2)
        }
    }

    /// `tokens revoke` blocks one access token; its session lives on and refreshes.
    @Test(arguments: TestStoreKind.testable)
    func tokensRevokeBlocksOneToken(_ kind: TestStoreKind) async throws {
        try await withGateway(kind) { gateway in
            let signedIn = try await login(gateway).json
            let access = try #require(signedIn["access_token"] as? String)
            let revoked = try await gateway.cli.run(["tokens", "revoke", try field("jti", of: access, part: 1)])
            let revokedAt = Date()
            #expect(revoked.status == 0, "\(revoked)")
            #expect(try await gateway.statusAfterRevocation(writtenAt: revokedAt) { try await gateway.client.get("/auth/verify", bearer: access).status } == 401)
            let refreshed = try await gateway.client.postJSON("/auth/refresh", ["refresh_token": signedIn["refresh_token"] as? String ?? ""])
            #expect(refreshed.status == 200)
            #expect(try await gateway.client.get("/auth/me", bearer: refreshed.json["access_token"] as? String).status == 200)
        }
    }

    /// A session revoked from the CLI also leaves the running server's upstream pool.
    @Test(arguments: TestStoreKind.testable)
    func revokedSessionLeavesTheUpstreamPool(_ kind: TestStoreKind) async throws {
        try await withShotGridGateway(kind) { gateway, _ in
            let signedIn = try await gateway.client.postJSON("/auth/login", ["username": "alice", "password": "wonderland-pass"])
            let sessionID = try #require(signedIn.json["session_id"] as? String)
            #expect(gateway.components.pool.stats.size == 1)
            #expect(try await gateway.cli.run(["sessions", "revoke", sessionID]).status == 0)
            // Not a contract figure (that is the 1 s for access tokens): a loose bound for loaded machines.
            #expect(try await statusWithin(3, becomes: 0) { gateway.components.pool.stats.size } == 0)
        }
    }

    /// `keys rotate` reaches running servers without a restart: the one that reloads first signs
    /// with the new key, and another verifies that token at once (an unknown kid makes it look).
    @Test func keysRotateReachesRunningServers() async throws {
        try await withGateway(.sqlite) { first in
            var lazy = first.config
            lazy.keyReloadInterval = 3600  // reloads only when a token names an unknown key
            let second = try await TestGateway.start(lazy)
            try await finally({ try await rotationScenario(first, second) }, { await second.stop() })
        }
    }

    func rotationScenario(_ first: TestGateway, _ second: TestGateway) async throws {
        let old = try #require(try await login(first).json["access_token"] as? String)
        let oldKey = try field("kid", of: old, part: 0)

        #expect(try await first.cli.run(["keys", "rotate"]).status == 0)
        let newKey = try KeyRingFile.load(path: first.config.keysPath).activeSigningKeyID
        #expect(newKey != oldKey)
        func newToken() async throws -> String { try #require(try await login(first).json["access_token"] as? String) }
        let fresh = try await eventually(within: 3, until: { (try? field("kid", of: $0, part: 0)) == newKey }, newToken)
        #expect(try field("kid", of: fresh, part: 0) == newKey)
        for gateway in [first, second] {
            #expect(try await gateway.client.get("/auth/verify", bearer: fresh).status == 200)
            #expect(try await gateway.client.get("/auth/verify", bearer: old).status == 200)  // old keys still verify
        }

        // A broken file, or one others may read, is refused and the keys in use are kept.
        let reloader = first.components.keyReloader
        let path = first.config.keysPath
        let rotatedAgain = try KeyRingFile.load(path: path).rotated()
        let refusedBefore = reloader.refusals
        try Data("not a key ring".utf8).write(to: URL(fileURLWithPath: path))
        #expect(try await eventually(within: 5, until: { $0 > refusedBefore }) { reloader.refusals } > refusedBefore)
        #expect(try await first.client.get("/auth/verify", bearer: fresh).status == 200)
        #expect(try await login(first).status == 200)
        // Made readable before it is renamed into place, so no poll sees it private.
        try KeyRingFile.write(rotatedAgain, path: path + ".next")
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path + ".next")
        let refusedBeforeMode = reloader.refusals
        #expect(rename(path + ".next", path) == 0)
        #expect(try await eventually(within: 5, until: { $0 > refusedBeforeMode }) { reloader.refusals } > refusedBeforeMode)
        #expect(try field("kid", of: try await newToken(), part: 0) == newKey)
        // Fixing the mode is enough for the ring to be taken up.
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        let kid = try await eventually(within: 3, until: { $0 == rotatedAgain.activeSigningKeyID }) {
            try field("kid", of: try await newToken(), part: 0)
        }
        #expect(kid == rotatedAgain.activeSigningKeyID)
    }

    @Test func storeUnreachableExits3() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        let closed = try TestEnvironment.refusingPort()
        defer { withExtendedLifetime(closed) {} }
        let mongo = OperatorCLI(store: "mongodb://127.0.0.1:\(closed.port)/authgate", keysPath: directory + "/keys.json", settings: ["AUTHGATE_STORE_TIMEOUT": "1"])
        let listed = try await mongo.run(["sessions", "list"])
        #expect(listed.status == 3, "\(listed)")
        let sqlite = OperatorCLI(store: "sqlite:\(directory)/missing/dir/authgate.db", keysPath: directory + "/keys.json")
        #expect(try await sqlite.run(["sessions", "revoke", "some-id"]).status == 3)
    }

    @Test func migrateKeysAndUsage() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        let keys = directory + "/ring.json"
        let cli = OperatorCLI(store: "sqlite:\(directory)/authgate.db", keysPath: keys)
        #expect(try await cli.run(["migrate"]).status == 0)
        #expect(try await cli.run(["migrate"]).status == 0)  // idempotent

        #expect(try await cli.run(["keys", "rotate"]).status == 1)  // no ring yet
        #expect(try await cli.run(["keys", "init"]).status == 0)
        let mode = try FileManager.default.attributesOfItem(atPath: keys)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try await cli.run(["keys", "init"]).status == 2)  // never overwrites a ring
        let before = try KeyRingFile.load(path: keys)
        #expect(try await cli.run(["keys", "rotate"]).status == 0)
        let after = try KeyRingFile.load(path: keys)
        #expect(after.activeSigningKeyID != before.activeSigningKeyID)
        #expect(after.signingKeys.count == before.signingKeys.count + 1)  // old keys still verify

        #expect(try await cli.run(["no-such-command"]).status == 2)
        #expect(try await cli.run(["sessions", "list", "--no-such-flag"]).status == 2)
    }
}
