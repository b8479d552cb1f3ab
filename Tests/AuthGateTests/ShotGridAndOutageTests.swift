// ShotGridAndOutageTests: sign-in through a real HTTP fake of ShotGrid, what the store holds
// afterwards, and outages of ShotGrid and MongoDB answered 503, never 401.
@testable import AuthGate
import AuthGateTesting
import CMongoC
import Foundation
import Testing

@Suite struct ShotGridTests {
    @Test(arguments: TestStoreKind.testable)
    func shotGridLoginGivesUserWithNumericUpstreamID(_ kind: TestStoreKind) async throws {
        try await withShotGridGateway(kind) { gateway, fake in
            let response = try await gateway.client.postJSON("/auth/login", ["username": "alice", "password": "wonderland-pass"])
            #expect(response.status == 200)
            let user = try #require(response.json["user"] as? [String: Any])
            #expect(user["upstream_id"] as? Int == 42 && user["id"] as? String == "42" && user["name"] as? String == "Alice Liddell")
            #expect(fake.passwordGrants == 1 && fake.identityLookups == 1)
            #expect(gateway.components.pool.stats.size == 1)
            let wrong = try await gateway.client.postJSON("/auth/login", ["username": "alice", "password": "nope-nope"])
            #expect(wrong.status == 401 && wrong.errorCode == "invalid_grant")
            let inactive = try await gateway.client.postJSON("/auth/login", ["username": "bob", "password": "builder-pass"])
            #expect(inactive.status == 401 && inactive.text == wrong.text)
        }
    }

    /// After login and refresh, no document holds the password, a raw refresh token or a raw
    /// upstream token; and the TTL indexes exist.
    @Test func mongoHoldsNoSecretsAndHasTTLIndexes() async throws {
        try await withShotGridGateway(.mongo, configure: { _ in }) { gateway, fake in
            fake.accessTokenLifetime = 4
            let signedIn = try await gateway.client.postJSON("/auth/login", ["username": "alice", "password": "wonderland-pass"])
            let refresh = try #require(signedIn.json["refresh_token"] as? String)
            // Three seconds on, the 4 s upstream token is due for renewal: refresh goes upstream too.
            let refreshed = try await gateway.components.refreshFlow.refresh(refreshToken: refresh, now: Date().addingTimeInterval(3))
            #expect(fake.refreshGrants == 1)
            #expect(gateway.components.pool.stats.hits >= 1)
            let store = try #require(gateway.components.store as? MongoSessionStore)
            let dump = try await store.pool.withClient { client in
                var text = ""
                for collection in ["sessions", "revoked_tokens", "users", "rate_limits"] {
                    text += try client.find(collection, [:]).map(\.debugDescription).joined()
                }
                return text
            }
            let secrets = ["wonderland-pass", refresh, refreshed.refreshToken.value]
                + fake.issuedAccessTokens + fake.issuedRefreshTokens
            for secret in secrets { #expect(!dump.contains(secret)) }
            #expect(dump.contains("ciphertext") && dump.contains("refresh_tokens"))
            let indexes = try await store.pool.withClient { client in
                try ["sessions", "revoked_tokens", "rate_limits"].map { name in
                    try client.command(["listIndexes": .string(name)])["cursor"]?.document?["firstBatch"]?.array ?? []
                }
            }
            for list in indexes {
                #expect(list.contains { $0.document?["expireAfterSeconds"] != nil && $0.document?["key"]?.document?["expires_at"] != nil })
            }
        }
    }

    @Test func shotGridOutagesAnswer503NotCredentialsErrors() async throws {
        try await withShotGridGateway(.sqlite, configure: { $0.upstreamTimeout = 1 }) { gateway, fake in
            let credentials = ["username": "alice", "password": "wonderland-pass"]
            fake.behaviour = .serverError
            let failing = try await gateway.client.postJSON("/auth/login", credentials)
            #expect(failing.status == 503 && failing.errorCode == "upstream_unavailable")
            fake.behaviour = .slow(seconds: 3)
            #expect(try await gateway.client.postJSON("/auth/login", credentials).status == 503)
            fake.behaviour = .dropConnections
            #expect(try await gateway.client.postJSON("/auth/login", credentials).status == 503)
            fake.behaviour = .normal
            #expect(try await gateway.client.postJSON("/auth/login", credentials).status == 200)
            await fake.stop()
            let down = try await gateway.client.postJSON("/auth/login", credentials)
            #expect(down.status == 503 && down.errorCode == "upstream_unavailable")
        }
    }

    @Test func upstreamRefusingRenewalEndsTheSession() async throws {
        try await withShotGridGateway(.sqlite) { gateway, fake in
            fake.accessTokenLifetime = 4
            let signedIn = try await gateway.client.postJSON("/auth/login", ["username": "alice", "password": "wonderland-pass"])
            fake.revokeAllTokens()
            let refresh = try #require(signedIn.json["refresh_token"] as? String)
            await #expect(throws: SessionError.invalidGrant) {
                try await gateway.components.refreshFlow.refresh(refreshToken: refresh, now: Date().addingTimeInterval(3))
            }
            #expect(try await gateway.client.get("/auth/me", bearer: signedIn.json["access_token"] as? String).status == 401)
        }
    }
}

@Suite struct MongoOutageTests {
    /// MongoDB stopped: login and refresh answer 503, verify keeps working on the last view for the
    /// fail-static window and answers 503 after it; once MongoDB is back the same process serves
    /// again and the earlier session is intact.
    @Test(.enabled(if: MongoEcoServer.isAvailable, Comment(rawValue: MongoEcoServer.unavailableReason)))
    func mongoOutageAnswers503AndRecovers() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        let mongo = try MongoEcoServer(directory: directory)
        try await finally({
            try await mongo.start()
            var config = GatewayConfig.forTest(store: mongo.uri, directory: directory)
            config.storeTimeout = 1
            config.storeFailStatic = 6  // room for a slow shutdown of mongoeco on a loaded machine
            let gateway = try await TestGateway.start(config)
            try await finally({ try await outageScenario(gateway, mongo) }, { await gateway.stop() })
        }, {
            await mongo.stop()
            TestEnvironment.remove(directory)
        })
    }

    func outageScenario(_ gateway: TestGateway, _ mongo: MongoEcoServer) async throws {
        let hash = try await TestPasswords.hash("correct-horse-1")
        try await gateway.components.store.insertUser(
            UserRecord(id: "u", login: "alice", email: "", name: "Alice", passwordHash: hash, createdAt: Date()))
        let signedIn = try await login(gateway)
        #expect(signedIn.status == 200)
        let access = try #require(signedIn.json["access_token"] as? String)
        let refresh = try #require(signedIn.json["refresh_token"] as? String)

        await mongo.stop()
        // Inside the fail-static window, verify answers from the last revocation view.
        #expect(try await gateway.client.get("/auth/verify", bearer: access).status == 200)
        let degraded = try await gateway.client.get("/readyz")
        #expect(degraded.status == 200 && degraded.json["status"] as? String == "degraded", "\(degraded.text)")
        let during = try await login(gateway)
        #expect(during.status == 503 && during.errorCode == "store_unavailable")
        // A refresh that cannot reach the store must not be mistaken for a bad token.
        let refreshDuring = try await gateway.client.postJSON("/auth/refresh", ["refresh_token": refresh])
        #expect(refreshDuring.status == 503 && refreshDuring.errorCode == "store_unavailable")

        // Past the window the view may be missing revocations: verify and readiness answer 503.
        #expect(try await statusWithin(20, becomes: 503) { try await gateway.client.get("/auth/verify", bearer: access).status } == 503)
        let verifyLate = try await gateway.client.get("/auth/verify", bearer: access)
        #expect(verifyLate.errorCode == "store_unavailable")
        #expect(try await gateway.client.get("/readyz").status == 503)

        try await mongo.start()
        let status = try await statusWithin(10, becomes: 200) { try await login(gateway).status }
        #expect(status == 200)
        #expect(try await gateway.client.get("/auth/verify", bearer: access).status == 200)
        // Readiness is cached for a moment; it turns "ok" once a fresh check sees the store.
        let ready = try await eventually(within: 10, until: { $0 == "ok" }) { try await gateway.client.get("/readyz").json["status"] as? String }
        #expect(ready == "ok")
        #expect(try await gateway.client.get("/auth/me", bearer: access).status == 200)
        // The session from before the outage is intact: its refresh token still rotates.
        let refreshAfter = try await gateway.client.postJSON("/auth/refresh", ["refresh_token": refresh])
        #expect(refreshAfter.status == 200)
    }
}
