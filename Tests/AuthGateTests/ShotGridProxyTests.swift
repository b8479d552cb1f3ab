// ShotGridProxyTests: `kind: shotgrid` routes against the fake ShotGrid: each user's calls carry
// their own token (and see only their data), one session keeps one connection, tokens are
// renewed ahead of expiry and after a 401 (the call still succeeds), another instance rebuilds
// the link from the store, and logout or LRU eviction closes it.
@testable import AuthGate
import AuthGateTesting
import Foundation
import Testing

/// A ShotGrid-provider gateway with the route `/sg` → ShotGrid, alice and carol active with
/// their own projects.
func withShotGridProxy(
    _ kind: TestStoreKind = .sqlite, configure: (inout GatewayConfig) -> Void = { _ in }, _ body: (TestGateway, FakeShotGrid) async throws -> Void
) async throws {
    try await withShotGridGateway(kind, configure: { config in
        config.routes = [ProxyRoute(prefix: "/sg", kind: .shotgrid, upstream: nil, stripPrefix: true, timeout: 5, authorization: .drop, audience: "/sg")]
        configure(&config)
    }) { gateway, fake in
        fake.addUser(.init(id: 44, login: "carol", password: "carol-sg-pass", email: "carol@example.com", name: "Carol"))
        fake.setProjects([.init(id: 1, name: "Alice's Film")], for: "alice")
        fake.setProjects([.init(id: 2, name: "Carol's Series"), .init(id: 3, name: "Carol's Ad")], for: "carol")
        try await body(gateway, fake)
    }
}

func shotgridToken(_ gateway: TestGateway, _ user: String = "alice") async throws -> String {
    let password = user == "alice" ? "wonderland-pass" : "carol-sg-pass"
    return try await accessToken(gateway, user, password)
}

func projectNames(_ answer: TestResponse) -> [String] {
    ((answer.json["data"] as? [[String: Any]]) ?? []).compactMap { ($0["attributes"] as? [String: Any])?["name"] as? String }.sorted()
}

@Suite struct ShotGridProxyTests {
    @Test func eachUserSeesOnlyTheirOwnData() async throws {
        try await withShotGridProxy { gateway, fake in
            let alice = try await shotgridToken(gateway), carol = try await shotgridToken(gateway, "carol")
            let aliceSees = try await gateway.client.get("/sg/entity/projects?fields=name", bearer: alice)
            #expect(aliceSees.status == 200 && projectNames(aliceSees) == ["Alice's Film"], "\(aliceSees.text)")
            let carolSees = try await gateway.client.get("/sg/entity/projects?fields=name", bearer: carol)
            #expect(projectNames(carolSees) == ["Carol's Ad", "Carol's Series"])
            #expect(try await gateway.client.get("/sg/entity/projects/2", bearer: alice).status == 404)
            // The client's own Authorization never reaches ShotGrid: the session's ShotGrid token does.
            let bearers = fake.receivedRequests.filter { $0.path.hasPrefix("/api/v1/entity/projects") }.compactMap(\.bearerToken)
            #expect(!bearers.contains(alice) && !bearers.contains(carol) && Set(bearers).count == 2)
        }
    }

    @Test(arguments: TestStoreKind.testable)
    func oneSessionKeepsOneConnectionAndAnotherSessionOpensItsOwn(_ kind: TestStoreKind) async throws {
        try await withShotGridProxy(kind) { gateway, fake in
            let alice = try await shotgridToken(gateway)
            let before = fake.acceptedConnections
            for _ in 0..<20 {
                #expect(try await gateway.client.get("/sg/entity/projects", bearer: alice).status == 200)
            }
            // The login's connection stays in the pool and carries the calls: at most one new one.
            #expect(fake.acceptedConnections - before <= 1, "\(fake.acceptedConnections - before) new connections")
            let carol = try await shotgridToken(gateway, "carol")
            let afterCarolLogin = fake.acceptedConnections
            #expect(afterCarolLogin > before)
            #expect(try await gateway.client.get("/sg/entity/projects", bearer: carol).status == 200)
            let calls = fake.receivedRequests.filter { $0.path == "/api/v1/entity/projects" }
            #expect(Set(calls.prefix(20).map(\.connection)).count == 1)
            #expect(calls.last?.connection != calls.first?.connection)
        }
    }

    @Test func a401RenewsOnceAndTheCallSucceedsWithItsBody() async throws {
        try await withShotGridProxy { gateway, fake in
            let alice = try await shotgridToken(gateway)
            fake.expireAccessTokens()
            let read = try await gateway.client.get("/sg/entity/projects", bearer: alice)
            #expect(read.status == 200 && fake.refreshGrants == 1)
            fake.expireAccessTokens()
            let created = try await gateway.client.postJSON("/sg/entity/projects", ["name": "Retried Film"], headers: ["Authorization": "Bearer \(alice)"])
            #expect(created.status == 201, "\(created.status) \(created.text)")
            #expect(fake.refreshGrants == 2)
            // The retry carried the same body as the refused first attempt.
            let posts = fake.receivedRequests.filter { $0.method == "POST" && $0.path == "/api/v1/entity/projects" }
            #expect(posts.map(\.status) == [401, 201] && posts[0].bodyText == posts[1].bodyText && posts[1].bodyText?.contains("Retried Film") == true)
            #expect(projectNames(try await gateway.client.get("/sg/entity/projects", bearer: alice)).contains("Retried Film"))
        }
    }

    /// A small chunked body (no Content-Length) is kept too, so the retry after a 401 carries it.
    @Test func aSmallChunkedBodyIsRetriedAfterA401() async throws {
        try await withShotGridProxy { gateway, fake in
            let alice = try await shotgridToken(gateway)
            fake.expireAccessTokens()
            let json = Array(#"{"name":"Chunked Film"}"#.utf8)
            let chunked = Array("\(String(json.count, radix: 16))\r\n".utf8) + json + Array("\r\n0\r\n\r\n".utf8)
            let created = try await RawHTTPConnection.with(port: gateway.port) { connection in
                try await connection.send("POST", "/sg/entity/projects", headers: [
                    HeaderLine("Authorization", "Bearer \(alice)"), HeaderLine("Content-Type", "application/json"),
                    HeaderLine("Transfer-Encoding", "chunked"),
                ], body: chunked)
            }
            #expect(created.status == 201, "\(created.status) \(created.text)")
            let posts = fake.receivedRequests.filter { $0.method == "POST" && $0.path == "/api/v1/entity/projects" }
            #expect(posts.map(\.status) == [401, 201] && posts.allSatisfy { $0.bodyText == #"{"name":"Chunked Film"}"# })
        }
    }

    @Test func tokensAreRenewedAheadOfExpiry() async throws {
        try await withShotGridProxy { gateway, fake in
            // Renewal is due when less than half of it is left: 3 s of margin between the
            // gateway's check and ShotGrid's, which a starved test machine needs.
            fake.accessTokenLifetime = 6
            let alice = try await shotgridToken(gateway)
            let grants = try await eventually(within: 15, until: { $0 >= 1 }) { () async throws -> Int in
                #expect(try await gateway.client.get("/sg/entity/projects", bearer: alice).status == 200)
                return fake.refreshGrants
            }
            #expect(grants >= 1)
            // Renewed before ShotGrid could refuse: no call was answered 401.
            #expect(!fake.receivedRequests.contains { $0.path == "/api/v1/entity/projects" && $0.status == 401 })
        }
    }

    /// Another instance (or an evicted entry) rebuilds the session's link from the sealed tokens
    /// in the store; a renewal there is sealed back, so the first instance keeps working too.
    @Test(arguments: TestStoreKind.testable)
    func anotherInstanceRebuildsTheLinkFromTheStore(_ kind: TestStoreKind) async throws {
        try await withShotGridProxy(kind) { first, fake in
            let second = try await TestGateway.start(first.config)
            try await finally({
                let alice = try await shotgridToken(first)
                #expect(second.components.pool.stats.size == 0)
                #expect(projectNames(try await second.client.get("/sg/entity/projects", bearer: alice)) == ["Alice's Film"])
                #expect(second.components.pool.stats.size == 1)
                fake.expireAccessTokens()
                #expect(try await second.client.get("/sg/entity/projects", bearer: alice).status == 200)
                #expect(fake.refreshGrants == 1)
                // The first instance's token was refused and its refresh token spent by the second:
                // it finds the renewed tokens in the store rather than ending the session.
                #expect(try await first.client.get("/sg/entity/projects", bearer: alice).status == 200)
            }, { await second.stop() })
        }
    }

    @Test func logoutClosesTheSessionsConnectionAndTheLRUEvicts() async throws {
        try await withShotGridProxy(configure: { $0.poolSize = 2 }) { gateway, _ in
            let pool = gateway.components.pool
            let a = try await shotgridToken(gateway), b = try await shotgridToken(gateway, "carol")
            #expect(pool.stats.size == 2)
            _ = try await shotgridToken(gateway)  // a third session: the least recently used goes
            #expect(pool.stats.size == 2 && pool.stats.evictions == 1)
            // The evicted session is rebuilt from the store when it calls again (pushing out b).
            #expect(try await gateway.client.get("/sg/entity/projects", bearer: a).status == 200)
            #expect(pool.stats.size == 2 && pool.stats.evictions == 2)
            // Logout takes the session's connection out of the pool (and closes it) at once.
            #expect(try await gateway.client.send("POST", "/auth/logout", headers: ["Authorization": "Bearer \(a)"]).status == 204)
            #expect(pool.stats.evictions == 3 && pool.stats.size == 1)
            #expect(try await gateway.client.get("/sg/entity/projects", bearer: a).status == 401)
            #expect(try await gateway.client.get("/sg/entity/projects", bearer: b).status == 200)
        }
    }

    /// Bodies stream both ways on the ShotGrid route too: a large download arrives whole, and an
    /// upload over 64 KiB (too big to keep for a retry) goes through the upload pipe.
    @Test func largeBodiesStreamThroughTheSessionsConnection() async throws {
        try await withShotGridProxy { gateway, fake in
            let alice = try await shotgridToken(gateway)
            let size = 8 << 20
            let download = try await RawHTTPConnection.with(port: gateway.port) { connection in
                try await connection.send("GET", "/sg/entity/fake_blobs/\(size)", headers: [HeaderLine("Authorization", "Bearer \(alice)")], keepBody: 0)
            }
            #expect(download.status == 200 && download.complete && download.bodySize == size)
            #expect(download.bodySHA256 == DownloadPattern.sha256Hex(count: size))
            let description = String(repeating: "long description ", count: 12_000)  // about 200 KiB
            let created = try await gateway.client.postJSON(
                "/sg/entity/projects", ["name": "Big One", "sg_description": description], headers: ["Authorization": "Bearer \(alice)"])
            #expect(created.status == 201, "\(created.status) \(created.text.prefix(200))")
            let post = try #require(fake.receivedRequests.last { $0.method == "POST" })
            #expect((post.body?.count ?? 0) > 64 << 10 && post.bodyText?.contains("Big One") == true)
        }
    }
}
