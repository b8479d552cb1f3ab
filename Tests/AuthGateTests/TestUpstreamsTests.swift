// Tests of the real upstreams the reverse-proxy tests run against: EchoUpstream, the FakeShotGrid
// entity routes, the raw HTTP client and GatewayProcess. Each test owns its servers and temp dirs.
import AuthGateTesting
import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

@Suite("Test upstreams")
struct TestUpstreamsTests {

    /// Starts an echo upstream, runs `body`, always stops it.
    func withEcho(_ body: (EchoUpstream) async throws -> Void) async throws {
        let echo = EchoUpstream()
        try await echo.start()
        try await finally({ try await body(echo) }, { await echo.stop() })
    }

    // MARK: EchoUpstream

    @Test func echoRecordsMethodRawTargetAndHeadersExactly() async throws {
        try await withEcho { echo in
            let sent = [
                HeaderLine("X-First", "1"),
                HeaderLine("x-MiXeD-Case", "Value With  Spaces"),
                HeaderLine("X-Dup", "one"),
                HeaderLine("Cookie", "a=1; b=2"),
                HeaderLine("X-Dup", "two"),
                HeaderLine("Content-Type", "text/plain"),
            ]
            let body = Array("hello".utf8)
            let answer = try await RawHTTPConnection.with(port: echo.port) { connection in
                try await connection.send("PATCH", "/api/it%2Fems/?b=2&a=1&a=%20x", headers: sent, body: body)
            }
            #expect(answer.status == 200)
            #expect(answer.complete)

            let record = try #require(echo.lastRequest)
            #expect(record.method == "PATCH")
            #expect(record.path == "/api/it%2Fems/")
            #expect(record.query == "b=2&a=1&a=%20x")
            let expected = [HeaderLine("Host", "127.0.0.1:\(echo.port)")] + sent + [HeaderLine("Content-Length", "5")]
            #expect(record.headers == expected)
            #expect(record.headers(named: "x-dup") == ["one", "two"])
            #expect(record.bodySize == 5)
            #expect(record.bodySHA256 == StreamingSHA256.hex(of: body))
            #expect(record.bodyComplete)

            // The answer describes the same request.
            #expect(answer.json["method"] as? String == "PATCH")
            #expect(answer.json["path"] as? String == "/api/it%2Fems/")
            #expect(answer.json["query"] as? String == "b=2&a=1&a=%20x")
            let headers = try #require(answer.json["headers"] as? [[String]])
            #expect(headers == expected.map { [$0.name, $0.value] })
            #expect(answer.json["body_sha256"] as? String == record.bodySHA256)

            // No query at all is nil, an empty one is "".
            _ = try await RawHTTPConnection.with(port: echo.port) { try await $0.send("GET", "/plain") }
            #expect(echo.lastRequest?.query == nil)
            _ = try await RawHTTPConnection.with(port: echo.port) { try await $0.send("GET", "/plain?") }
            #expect(echo.lastRequest?.query == "")
        }
    }

    /// The upload is hashed as it streams. Its memory is not measured here: this process runs
    /// every other suite alongside (one argon2id hash alone takes 64 MiB), so its RSS says nothing
    /// about one server; the proxy's streaming memory is measured on the gateway's own process
    /// (ProxyProcessTests).
    @Test func echoHashesAStreamed64MiBUpload() async throws {
        try await withEcho { echo in
            let size = 64 << 20
            let expected = DownloadPattern.sha256Hex(count: size)
            let answer = try await RawHTTPConnection.with(port: echo.port) { connection in
                try await connection.sendPattern("PUT", "/any/prefix/upload", headers: [HeaderLine("Content-Type", "application/octet-stream")], bytes: size)
            }
            #expect(answer.status == 200)
            #expect(answer.json["size"] as? Int == size)
            #expect(answer.json["sha256"] as? String == expected)
            let record = try #require(echo.lastRequest)
            #expect(record.bodySize == size && record.bodySHA256 == expected && record.bodyComplete)

            // Chunked uploads are hashed the same way.
            let chunked = try await RawHTTPConnection.with(port: echo.port) { connection in
                try await connection.sendPattern("POST", "/upload", bytes: 3 * 65536 + 17, chunked: true)
            }
            #expect(chunked.json["size"] as? Int == 3 * 65536 + 17)
            #expect(chunked.json["sha256"] as? String == DownloadPattern.sha256Hex(count: 3 * 65536 + 17))
            #expect(echo.lastRequest?.header("Transfer-Encoding") == "chunked")
        }
    }

    @Test func echoRecordsAnUploadCutOffMidBodyAsIncomplete() async throws {
        try await withEcho { echo in
            struct Abort: Error {}
            await #expect(throws: Abort.self) {
                try await RawHTTPConnection.with(port: echo.port) { connection in
                    try await connection.writePattern("PUT", "/upload", bytes: 1 << 20, stopAfter: 200_000)
                    try await Task.sleep(for: .milliseconds(100))
                    throw Abort()
                }
            }
            let record = try await eventually(within: 5, until: { $0 != nil }) { echo.lastRequest }
            #expect(record?.bodyComplete == false)
            #expect(record?.bodyError != nil)
            #expect((record?.bodySize ?? 0) <= 200_000)
        }
    }

    @Test func downloadStreamsTheAdvertisedBytesAndHash() async throws {
        try await withEcho { echo in
            for size in [0, 1, 8, 65536, 3 * 65536 + 123, 16 << 20] {
                let answer = try await RawHTTPConnection.with(port: echo.port) { connection in
                    try await connection.send("GET", "/files/download/\(size)", keepBody: 70000)
                }
                #expect(answer.status == 200)
                #expect(answer.framing == .contentLength(size))
                #expect(answer.complete)
                #expect(answer.bodySize == size)
                #expect(answer.bodySHA256 == EchoUpstream.expectedDownloadSHA256(bytes: size))
                #expect(answer.body == DownloadPattern.bytes(0..<min(size, 70000)))
            }
            // Blocks are stamped with their index, so two blocks never look alike.
            #expect(DownloadPattern.bytes(0..<8) != DownloadPattern.bytes(65536..<65544))

            // An ordinary client agrees.
            let viaURLSession = try await TestHTTPClient(baseURL: echo.baseURL).get("/x/y/download/200000")
            #expect(viaURLSession.body.count == 200_000)
            #expect(StreamingSHA256.hex(of: viaURLSession.body) == DownloadPattern.sha256Hex(count: 200_000))
        }
    }

    @Test func breakMidBodyEndsTheConnectionBeforeTheBodyIsComplete() async throws {
        try await withEcho { echo in
            let withLength = try await RawHTTPConnection.with(port: echo.port) { try await $0.send("GET", "/p/break-mid-body") }
            #expect(withLength.status == 200)
            #expect(withLength.framing == .contentLength(EchoUpstream.breakMidBodyAdvertised))
            #expect(!withLength.complete)
            #expect(withLength.bodySize <= EchoUpstream.breakMidBodyWritten)

            let chunked = try await RawHTTPConnection.with(port: echo.port) { try await $0.send("GET", "/p/break-mid-body/chunked") }
            #expect(chunked.status == 200)
            #expect(chunked.framing == .chunked)
            #expect(!chunked.complete)
            #expect(chunked.bodySize <= EchoUpstream.breakMidBodyWritten)

            // URLSession (libcurl underneath) reports both as errors, never as a short body.
            let client = TestHTTPClient(baseURL: echo.baseURL)
            await #expect(throws: (any Error).self) { _ = try await client.get("/break-mid-body") }
            await #expect(throws: (any Error).self) { _ = try await client.get("/break-mid-body/chunked") }

            // The server itself carries on.
            #expect(try await client.get("/after").status == 200)
        }
    }

    @Test func specialPathsMatchUnderAnyPrefix() async throws {
        try await withEcho { echo in
            try await RawHTTPConnection.with(port: echo.port) { connection in
                let teapot = try await connection.send("GET", "/a/b/status/418")
                #expect(teapot.status == 418)
                #expect(teapot.json["status"] as? Int == 418)
                let noContent = try await connection.send("DELETE", "/status/204")
                #expect(noContent.status == 204 && noContent.framing == .none)
                #expect(try await connection.send("GET", "/status/99").status == 400)
                // Not special: "status" without a number, "download" with a word.
                #expect(try await connection.send("GET", "/status/teapot").json["path"] as? String == "/status/teapot")
                #expect(try await connection.send("GET", "/download/many").json["path"] as? String == "/download/many")
            }

            let clock = ContinuousClock()
            let start = clock.now
            let slow = try await RawHTTPConnection.with(port: echo.port) { try await $0.send("GET", "/deep/slow/0.3") }
            #expect(slow.status == 200)
            #expect(clock.now - start >= .milliseconds(290))
            #expect(slow.json["path"] as? String == "/deep/slow/0.3")

            let slowBody = try await RawHTTPConnection.with(port: echo.port) { try await $0.send("GET", "/slow-body/0.2") }
            #expect(slowBody.status == 200 && slowBody.complete)
            #expect(slowBody.json["path"] as? String == "/slow-body/0.2")

            let (headers, afterClose) = try await RawHTTPConnection.with(port: echo.port) { connection in
                let headers = try await connection.send("GET", "/x/headers")
                // `Connection: close` is meant: the server closes, a second request gets no answer.
                let second: RawHTTPResponse? = try? await connection.send("GET", "/again")
                return (headers, second)
            }
            #expect(headers.status == 200 && headers.complete)
            #expect(headers.json["headers"] as? String == "sent")
            #expect(afterClose == nil)
            for (name, value) in EchoUpstream.hopByHopAndKeptHeaders where name != "Set-Cookie" {
                #expect(headers.header(name) == value, "\(name)")
            }
            #expect(headers.headers(named: "Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"])
        }
    }

    @Test func connectionsAreCountedOncePerKeepAliveConnection() async throws {
        try await withEcho { echo in
            let answers = try await RawHTTPConnection.with(port: echo.port) { connection in
                [
                    try await connection.send("GET", "/one"),
                    try await connection.send("POST", "/two", body: Array("x".utf8)),
                    try await connection.send("GET", "/three/download/100000"),
                ]
            }
            #expect(answers.map(\.status) == [200, 200, 200])
            #expect(answers.map(\.complete) == [true, true, true])
            #expect(echo.acceptedConnections == 1)
            #expect(echo.requests.map(\.connection) == [1, 1, 1])

            try await RawHTTPConnection.with(port: echo.port) { connection in
                _ = try await connection.send("GET", "/four")
            }
            #expect(echo.acceptedConnections == 2)
            #expect(echo.lastRequest?.connection == 2)

            // curl with two URLs reuses its connection too.
            let curl = try await Self.run("/usr/bin/curl", ["-sS", "-o", "/dev/null", "-o", "/dev/null", "\(echo.baseURL)/five", "\(echo.baseURL)/six"])
            #expect(curl == 0)
            #expect(echo.acceptedConnections == 3)

            echo.reset()
            #expect(echo.requests.isEmpty && echo.acceptedConnections == 0)
        }
    }

    // MARK: FakeShotGrid

    static let users: [FakeShotGrid.User] = [
        .init(id: 42, login: "alice", password: "wonderland", email: "alice@example.com", name: "Alice Liddell"),
        .init(id: 43, login: "bob", password: "builder", email: "bob@example.com", name: "Bob Builder"),
    ]

    static let projects: [String: [FakeShotGrid.Project]] = [
        "alice": [.init(id: 70, name: "Looking Glass"), .init(id: 71, name: "Rabbit Hole", status: "Archive", description: "deep")],
        "bob": [.init(id: 80, name: "Bridge")],
    ]

    func withFake(_ body: (FakeShotGrid) async throws -> Void) async throws {
        let fake = FakeShotGrid(users: Self.users, projects: Self.projects)
        try await fake.start()
        do {
            try await body(fake)
        } catch {
            await fake.stop()
            throw error
        }
        await fake.stop()
    }

    func accessToken(_ fake: FakeShotGrid, _ login: String, _ password: String) async throws -> String {
        let answer = try await TestHTTPClient(baseURL: fake.baseURL).send(
            "POST",
            "/api/v1/auth/access_token",
            headers: ["Content-Type": "application/x-www-form-urlencoded"],
            body: Data("grant_type=password&username=\(login)&password=\(password)".utf8)
        )
        return try #require(answer.json["access_token"] as? String)
    }

    func get(_ fake: FakeShotGrid, _ path: String, bearer: String?) async throws -> RawHTTPResponse {
        try await RawHTTPConnection.with(port: fake.port) { connection in
            try await connection.send("GET", path, headers: bearer.map { [HeaderLine("Authorization", "Bearer \($0)")] } ?? [])
        }
    }

    @Test func fakeShotGridShowsEachUserOnlyTheirOwnProjects() async throws {
        try await withFake { fake in
            let alice = try await accessToken(fake, "alice", "wonderland")
            let bob = try await accessToken(fake, "bob", "builder")

            let alicesList = try await get(fake, "/api/v1/entity/projects?fields=name", bearer: alice)
            #expect(alicesList.status == 200)
            let data = try #require(alicesList.json["data"] as? [[String: Any]])
            #expect(data.compactMap { $0["id"] as? Int } == [70, 71])
            let first = try #require(data.first)
            #expect(first["type"] as? String == "Project")
            #expect((first["attributes"] as? [String: Any])?.keys.sorted() == ["name"])
            #expect((first["relationships"] as? [String: Any])?.isEmpty == true)
            #expect((first["links"] as? [String: Any])?["self"] as? String == "/api/v1/entity/projects/70")
            #expect((alicesList.json["links"] as? [String: Any])?["self"] as? String == "/api/v1/entity/projects?fields=name")

            let bobsList = try await get(fake, "/api/v1/entity/Project", bearer: bob)
            let bobs = try #require(bobsList.json["data"] as? [[String: Any]])
            #expect(bobs.compactMap { $0["id"] as? Int } == [80])
            #expect((bobs.first?["attributes"] as? [String: Any])?.keys.sorted() == ["name", "sg_description", "sg_status"])

            // One record: own ones only; someone else's is as missing as a nonexistent one.
            let own = try await get(fake, "/api/v1/entity/projects/71", bearer: alice)
            #expect(own.status == 200)
            let record = try #require(own.json["data"] as? [String: Any])
            #expect(record["id"] as? Int == 71)
            #expect((record["attributes"] as? [String: Any])?["sg_description"] as? String == "deep")
            let others = try await get(fake, "/api/v1/entity/projects/80", bearer: alice)
            #expect(others.status == 404)
            let error = try #require((others.json["errors"] as? [[String: Any]])?.first)
            #expect(error["code"] as? Int == 104)
            #expect(error["detail"] as? String == "Project: 80 not found")

            // Filters work as on human_users.
            let filtered = try await get(fake, "/api/v1/entity/projects?filter%5Bname%5D=Rabbit%20Hole", bearer: alice)
            #expect((filtered.json["data"] as? [[String: Any]])?.compactMap { $0["id"] as? Int } == [71])
            #expect(try await get(fake, "/api/v1/entity/projects?filter%5Bbudget%5D=1", bearer: alice).status == 400)

            fake.setProjects([.init(id: 90, name: "New")], for: "bob")
            #expect(fake.projects(for: "bob").map(\.id) == [90])
        }
    }

    @Test func fakeShotGridCreatesAProjectFromAJSONBody() async throws {
        try await withFake { fake in
            let alice = try await accessToken(fake, "alice", "wonderland")
            let body = Array(#"{"name":"Tea Party","sg_description":"mad"}"#.utf8)
            let created = try await RawHTTPConnection.with(port: fake.port) { connection in
                try await connection.send(
                    "POST",
                    "/api/v1/entity/projects",
                    headers: [HeaderLine("Authorization", "Bearer \(alice)"), HeaderLine("Content-Type", "application/json")],
                    body: body
                )
            }
            #expect(created.status == 201)
            let record = try #require(created.json["data"] as? [String: Any])
            let id = try #require(record["id"] as? Int)
            #expect(created.json["links"] == nil)
            #expect((record["attributes"] as? [String: Any])?["name"] as? String == "Tea Party")
            #expect(fake.projects(for: "alice").last?.name == "Tea Party")
            #expect(fake.projects(for: "bob").allSatisfy { $0.id != id })

            // The request as received, body included, for proxy tests that compare a retry with the original.
            let received = try #require(fake.receivedRequests.last)
            #expect(received.method == "POST" && received.path == "/api/v1/entity/projects")
            #expect(received.body == body && received.bearerToken == alice && received.status == 201)

            let unknownField = try await RawHTTPConnection.with(port: fake.port) { connection in
                try await connection.send("POST", "/api/v1/entity/projects", headers: [HeaderLine("Authorization", "Bearer \(alice)")], body: Array(#"{"name":"x","budget":1}"#.utf8))
            }
            #expect(unknownField.status == 400)
            let error = try #require((unknownField.json["errors"] as? [[String: Any]])?.first)
            #expect(error["title"] as? String == "API create() Project.budget doesn't exist.")
            #expect((error["source"] as? [String: Any])?.isEmpty == true)
        }
    }

    @Test func fakeShotGridAnswers401ToExpiredOrUnknownTokensOnEveryEntityPath() async throws {
        try await withFake { fake in
            let alice = try await accessToken(fake, "alice", "wonderland")
            let paths = ["/api/v1/entity/projects", "/api/v1/entity/projects/70", "/api/v1/entity/human_users?filter%5Blogin%5D=alice", "/api/v1/entity/fake_blobs/10"]
            for path in paths {
                #expect(try await get(fake, path, bearer: alice).status == 200, "\(path)")
                #expect(try await get(fake, path, bearer: nil).status == 401, "\(path)")
                #expect(try await get(fake, path, bearer: "unknown").status == 401, "\(path)")
            }
            fake.expireAccessTokens()
            for path in paths {
                let expired = try await get(fake, path, bearer: alice)
                #expect(expired.status == 401, "\(path)")
                let error = try #require((expired.json["errors"] as? [[String: Any]])?.first)
                #expect(error["code"] as? Int == 102 && error["status"] as? Int == 401)
            }
            let create = try await RawHTTPConnection.with(port: fake.port) { connection in
                try await connection.send("POST", "/api/v1/entity/projects", headers: [HeaderLine("Authorization", "Bearer \(alice)")], body: Array(#"{"name":"x"}"#.utf8))
            }
            #expect(create.status == 401)
            #expect(fake.projects(for: "alice").count == 2)
        }
    }

    @Test func fakeShotGridAnswersTheAPIRootAndStreamsBlobs() async throws {
        try await withFake { fake in
            let root = try await get(fake, "/api/v1/", bearer: nil)
            #expect(root.status == 200)
            #expect((root.json["data"] as? [String: Any])?["api_version"] as? String == "v1")

            let alice = try await accessToken(fake, "alice", "wonderland")
            let blob = try await get(fake, "/api/v1/entity/fake_blobs/5000000", bearer: alice)
            #expect(blob.status == 200 && blob.complete && blob.framing == .contentLength(5_000_000))
            #expect(blob.bodySHA256 == DownloadPattern.sha256Hex(count: 5_000_000))
        }
    }

    @Test func fakeShotGridCountsConnectionsAndRequestsPerPath() async throws {
        try await withFake { fake in
            let alice = try await accessToken(fake, "alice", "wonderland")  // connection 1 (URLSession)
            try await RawHTTPConnection.with(port: fake.port) { connection in
                for _ in 0..<3 {
                    let answer = try await connection.send("GET", "/api/v1/entity/projects", headers: [HeaderLine("Authorization", "Bearer \(alice)")])
                    #expect(answer.status == 200)
                }
                _ = try await connection.send("GET", "/api/v1")
            }
            #expect(fake.acceptedConnections == 2)
            #expect(fake.requestCount("/api/v1/entity/projects") == 3)
            #expect(fake.requestCount("/api/v1/entity/projects", method: "POST") == 0)
            #expect(fake.requestCount("/api/v1/auth/access_token", method: "POST") == 1)
            #expect(fake.receivedRequests.filter { $0.path == "/api/v1/entity/projects" }.map(\.connection) == [2, 2, 2])
        }
    }

    // MARK: GatewayProcess

    @Test func gatewayProcessServesHealthzReportsItsMemoryAndStopsOnSIGTERM() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let gateway = try await GatewayProcess.start(arguments: [
            "serve", "--store", "sqlite:\(directory)/authgate.db", "--keys", "\(directory)/keys.json",
        ])
        let health = try await gateway.client.get("/healthz")
        #expect(health.status == 200)
        let rss = try #require(gateway.rssBytes())
        #expect(rss > 1 << 20 && rss < 1 << 30, "RSS \(rss)")
        // The child must not inherit a mask that blocks SIGTERM (bit 14 is signal 15).
        let blocked = try #require(gateway.blockedSignals())
        #expect(blocked & (1 << UInt64(SIGTERM - 1)) == 0)
        #expect(gateway.isRunning)

        let exit = await gateway.stop()
        #expect(!exit.killed, "\(exit)")
        #expect(exit.status == 0 || exit.signal == SIGTERM, "\(exit)")
        #expect(!gateway.isRunning)
        #expect(gateway.rssBytes() == nil)
        #expect(!FileManager.default.fileExists(atPath: gateway.directory))
        await #expect(throws: (any Error).self) { _ = try await TestHTTPClient(baseURL: gateway.baseURL).send("GET", "/healthz", timeout: 2) }
    }

    @Test func gatewayProcessReportsWhyItDidNotStart() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let error = await #expect(throws: TestSetupError.self) {
            _ = try await GatewayProcess.start(arguments: ["serve", "--store", "sqlite:\(directory)/a.db", "--keys", "\(directory)/k.json", "--no-such-setting", "1"])
        }
        #expect(error?.description.contains("no-such-setting") == true, "\(String(describing: error))")
    }

    // MARK: Helpers

    /// Runs a command to completion (output discarded) and returns its exit status; awaits the
    /// termination handler instead of blocking a cooperative thread in waitUntilExit.
    static func run(_ path: String, _ arguments: [String]) async throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let exited = AsyncStream<Int32>.makeStream()
        process.terminationHandler = { exited.continuation.yield($0.terminationStatus) }
        try process.run()
        return await exited.stream.first { _ in true } ?? -1
    }
}
