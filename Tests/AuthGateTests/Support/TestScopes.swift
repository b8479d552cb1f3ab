// TestScopes: what a test needs around it (a store of one kind, a gateway, a fake ShotGrid),
// set up for the test and torn down after it, awaited, whether the test passed or threw:
// temporary folders removed, MongoDB test databases dropped, servers stopped.
@testable import AuthGate
import AuthGateTesting
import Foundation

/// A fresh store setting of `kind` in a fresh folder; afterwards the folder is removed and a
/// MongoDB test database is dropped.
func withStoreSetting<T>(_ kind: TestStoreKind, _ body: (_ setting: String, _ directory: String) async throws -> T) async throws -> T {
    let directory = try TestEnvironment.temporaryDirectory()
    let setting: String
    do {
        setting = try await TestEnvironment.storeSetting(kind, directory: directory)
    } catch {
        TestEnvironment.remove(directory)
        throw error
    }
    let result: Result<T, any Error>
    do { result = .success(try await body(setting, directory)) } catch { result = .failure(error) }
    if kind == .mongo { await dropDatabase(setting) }
    TestEnvironment.remove(directory)
    return try result.get()
}

/// Drops the database a MongoDB store setting names.
func dropDatabase(_ setting: String) async {
    guard let store = try? MongoSessionStore(uri: setting, timeout: 2) else { return }
    _ = try? await store.pool.withClient { try $0.command(["dropDatabase": .int32(1)]) }
    await store.close()
}

/// Runs `body`, then `cleanup`, awaited, whether or not `body` threw.
func finally<T>(_ body: () async throws -> T, _ cleanup: () async -> Void) async throws -> T {
    let result: Result<T, any Error>
    do { result = .success(try await body()) } catch { result = .failure(error) }
    await cleanup()
    return try result.get()
}

/// An opened, migrated store of `kind`.
func withStore(_ kind: TestStoreKind, _ body: (any SessionStore) async throws -> Void) async throws {
    try await withStoreSetting(kind) { setting, directory in
        var config = GatewayConfig.forTest(store: setting, directory: directory)
        config.storeTimeout = 3
        let store = try GatewayComponents.openStore(config)
        try await finally({
            try await store.migrate()
            try await store.migrate()  // idempotent
            try await body(store)
        }, { await store.close() })
    }
}

/// A gateway on `kind` with a local user alice / correct-horse-1.
func withGateway(
    _ kind: TestStoreKind, configure: (inout GatewayConfig) -> Void = { _ in }, _ body: (TestGateway) async throws -> Void
) async throws {
    try await withStoreSetting(kind) { setting, directory in
        var config = GatewayConfig.forTest(store: setting, directory: directory)
        configure(&config)
        let gateway = try await TestGateway.start(config)
        try await finally({
            let hash = try await TestPasswords.hash("correct-horse-1")
            try await gateway.components.store.insertUser(
                UserRecord(id: "user-alice", login: "alice", email: "alice@example.com", name: "Alice A", passwordHash: hash, createdAt: Date()))
            try await body(gateway)
        }, { await gateway.stop() })
    }
}

/// A gateway on `kind` signing users in against a fake ShotGrid (alice active, bob disabled).
func withShotGridGateway(
    _ kind: TestStoreKind, configure: (inout GatewayConfig) -> Void = { _ in }, _ body: (TestGateway, FakeShotGrid) async throws -> Void
) async throws {
    let fake = FakeShotGrid(users: [
        .init(id: 42, login: "alice", password: "wonderland-pass", email: "alice@example.com", name: "Alice Liddell"),
        .init(id: 43, login: "bob", password: "builder-pass", email: "bob@example.com", name: "Bob", status: "dis"),
    ])
    try await fake.start()
    try await finally({
        try await withStoreSetting(kind) { setting, directory in
            var config = GatewayConfig.forTest(store: setting, directory: directory)
            config.provider = "shotgrid"
            config.shotgridURL = fake.baseURL
            // Generous: a loaded CI machine can take seconds over a login; outage tests set their own.
            config.upstreamTimeout = 10
            configure(&config)
            let gateway = try await TestGateway.start(config)
            try await finally({ try await body(gateway, fake) }, { await gateway.stop() })
        }
    }, { await fake.stop() })
}

func login(_ gateway: TestGateway, _ username: String = "alice", _ password: String = "correct-horse-1") async throws -> TestResponse {
    try await gateway.client.postJSON("/auth/login", ["username": username, "password": password])
}

/// One password hasher for the whole test process: each PasswordHasher owns a thread pool, and
/// one made per test and never shut down left hundreds of idle threads in a full run.
enum TestPasswords {
    private static let hasher = PasswordHasher(threads: 2, queueLimit: 1024)

    static func hash(_ password: String) async throws -> String {
        try await hasher.hash(Secret(password))
    }
}
