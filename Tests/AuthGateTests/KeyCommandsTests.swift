// KeyCommandsTests: keys list, keys retire and keys rotate --reseal against running gateways:
// resealing moves every stored upstream token to the new key without signing anyone out, a
// retired key stops verifying, the active keys cannot be retired.
@testable import AuthGate
import AuthGateTesting
import Foundation
import Testing

@Suite struct KeyCommandsTests {
    @Test(arguments: TestStoreKind.testable)
    func rotateWithResealThenRetireTheOldKeys(_ kind: TestStoreKind) async throws {
        try await withShotGridProxy(kind) { first, _ in
            let cli = OperatorCLI(store: first.config.store, keysPath: first.config.keysPath)
            let before = try KeyRingFile.load(path: first.config.keysPath)
            let signedIn = try await first.client.postJSON("/auth/login", ["username": "alice", "password": "wonderland-pass"])
            let oldAccess = try #require(signedIn.json["access_token"] as? String)
            let sid = try #require(signedIn.json["session_id"] as? String)

            let rotated = try await cli.run(["keys", "rotate", "--reseal"])
            #expect(rotated.status == 0 && rotated.stdout.contains("resealed 1 sessions"), "\(rotated)")
            let ring = try KeyRingFile.load(path: first.config.keysPath)
            #expect(try await first.components.store.session(id: sid, now: Date())?.upstream?.keyID == ring.activeSealingKeyID)

            let listed = try await cli.run(["keys", "list", "--json"])
            let rows = listed.jsonArray
            #expect(rows.count == 4 && rows.filter { $0["active"] as? Bool == true }.count == 2)
            #expect(Set(rows.compactMap { $0["use"] as? String }) == ["signing", "sealing"])
            for key in before.signingKeys + before.sealingKeys { #expect(!listed.stdout.contains(Data(key.material.value).base64EncodedString())) }

            #expect(try await cli.run(["keys", "retire", ring.activeSigningKeyID]).status == 2)
            #expect(try await cli.run(["keys", "retire", "no-such-key"]).status == 1)
            #expect(try await cli.run(["keys", "retire", before.activeSealingKeyID]).status == 0)
            #expect(try await cli.run(["keys", "retire", before.activeSigningKeyID]).status == 0)
            let afterRetire = try await cli.run(["keys", "list", "--json"])
            #expect(afterRetire.jsonArray.filter { $0["retired"] is String }.count == 2)

            // A fresh instance (empty pool) opens the resealed token with the new key: the
            // session's ShotGrid link survives the retirement of the old sealing key.
            // Running servers take the new ring up within a second.
            let current = try await eventually(within: 5, until: { $0 == ring.activeSigningKeyID }) { first.components.keys.current.activeSigningKeyID }
            #expect(current == ring.activeSigningKeyID)
            let second = try await TestGateway.start(first.config)
            try await finally({
                let refreshed = try await first.client.postJSON("/auth/refresh", ["refresh_token": signedIn.json["refresh_token"] as? String ?? ""])
                let fresh = try #require(refreshed.json["access_token"] as? String, "\(refreshed.status) \(refreshed.text)")
                #expect(try await second.client.get("/sg/entity/projects", bearer: fresh).status == 200)
                // Tokens signed with the retired signing key stop verifying everywhere.
                #expect(try await statusWithin(3, becomes: 401) { try await first.client.get("/auth/verify", bearer: oldAccess).status } == 401)
            }, { await second.stop() })
        }
    }
}
