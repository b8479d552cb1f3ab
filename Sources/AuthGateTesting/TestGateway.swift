// TestGateway: a real gateway on a free port, with its own store and key ring, for one test.
public import AuthGate
import Foundation
import Hummingbird
public import Logging
import ServiceLifecycle

public enum TestStoreKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite, mongo
    public var description: String { rawValue }

    /// The stores store-parameterized tests run on: MongoDB only where it can run (always under
    /// CI). When it is left out, `StoreAvailabilityTests` reports it as skipped, with the reason.
    public static var testable: [TestStoreKind] { MongoEcoServer.isAvailable ? allCases : [.sqlite] }
}

public enum TestEnvironment {
    public static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// The repository root, found from this file's path, for scripts and the venv.
    public static var projectRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    public static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "authgate-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Removes a directory made by `temporaryDirectory()`.
    public static func remove(_ directory: String) {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A store setting of the given kind, isolated for one test: a fresh SQLite file, or a fresh
    /// database on the shared mongoeco server.
    public static func storeSetting(_ kind: TestStoreKind, directory: String) async throws -> String {
        switch kind {
        case .sqlite:
            return "sqlite:\(directory)/authgate.db"
        case .mongo:
            return withDatabase(try await MongoEcoServer.sharedURI(), "t_" + UUID().uuidString.prefix(8).lowercased())
        }
    }

    /// A loopback port the kernel just handed out and nothing listens on.
    public static func freePort() throws -> Int {
        // Reserved and released at once: free now, though another test may take it later.
        try RefusingPort().port
    }

    /// A loopback port that refuses connections for as long as the reservation lives: bound but
    /// never listening, so no other test's server can take it in the meantime and no outgoing
    /// connection can pick it as its own port (a TCP self-connect, which would answer instead).
    public static func refusingPort() throws -> RefusingPort { try RefusingPort() }

    /// The URI with its database path replaced.
    public static func withDatabase(_ uri: String, _ database: String) -> String {
        guard let scheme = uri.range(of: "://") else { return uri }
        let rest = uri[scheme.upperBound...]
        let host = rest.split(separator: "/", maxSplits: 1).first.map(String.init) ?? String(rest)
        let query = uri.range(of: "?").map { String(uri[$0.lowerBound...]) } ?? ""
        return String(uri[..<scheme.upperBound]) + host.split(separator: "?").first! + "/" + database + query
    }
}

public struct TestSetupError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

public final class TestGateway: Sendable {
    public let components: GatewayComponents
    public let client: TestHTTPClient
    public let port: Int
    let group: ServiceGroup
    let task: Task<Void, any Error>

    public var config: GatewayConfig { components.config }

    /// Starts a gateway with `config` (listen address forced to 127.0.0.1:0) and waits until it listens.
    public static func start(_ config: GatewayConfig, keys: KeyRing? = nil, logLevel: Logger.Level = .warning) async throws -> TestGateway {
        var config = config
        config.listenHost = "127.0.0.1"
        config.listenPort = 0
        var logger = Logger(label: "authgate-test")
        logger.logLevel = logLevel
        let ring: KeyRing
        if let keys {
            ring = keys
        } else {
            ring = try KeyRingFile.loadOrCreate(path: config.keysPath, jwtSecret: config.jwtSecret, sealKey: config.sealKey).ring
        }
        let components = try await GatewayComponents(config: config, keys: ring, logger: logger)
        let (portStream, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Gateway.buildApplication(components) { port in
            continuation.yield(port)
            continuation.finish()
        }
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let task = Task { try await group.run() }
        let port = try await withDeadline(seconds: 60) { await portStream.first { _ in true } } ?? nil
        guard let port, port > 0 else {
            await group.triggerGracefulShutdown()
            _ = await task.result
            throw TestSetupError("gateway did not start: \(String(describing: await task.result))")
        }
        return TestGateway(components: components, port: port, group: group, task: task)
    }

    init(components: GatewayComponents, port: Int, group: ServiceGroup, task: Task<Void, any Error>) {
        self.components = components
        self.port = port
        self.group = group
        self.task = task
        client = TestHTTPClient(baseURL: "http://127.0.0.1:\(port)")
    }

    public var baseURL: String { client.baseURL }

    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = await task.result
    }
}

extension GatewayConfig {
    /// Defaults for tests: a store of the given kind, a key ring in `directory`, fast revocation polls.
    public static func forTest(store: String, directory: String) -> GatewayConfig {
        var config = GatewayConfig()
        config.store = store
        config.keysPath = directory + "/keys.json"
        config.revocationPollInterval = 0.1
        config.storeTimeout = 2
        return config
    }
}

/// A loopback port held bound and not listening; see `TestEnvironment.refusingPort()`.
public final class RefusingPort: Sendable {
    public let port: Int
    private let fd: Int32

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else {
            close(fd)
            throw TestSetupError("no free port")
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }
}
