// MongoEcoServer: the tests' one MongoDB launcher. It runs scripts/mongoeco-server.py (a mongoeco
// wire server) from the project's Python venv: one shared in-memory server per test process for
// the store tests, and servers of their own, persisted in SQLite, for tests that stop and restart
// MongoDB under a running gateway.
import Foundation

public final class MongoEcoServer: @unchecked Sendable {
    public let port: Int
    let directory: String
    let sqlite: Bool
    private var process: Process?

    /// The venv's python and the server script, or why MongoDB tests cannot run here.
    public static func launcher() -> Result<(python: String, script: String), TestSetupError> {
        let root = TestEnvironment.projectRoot
        let script = root + "/scripts/mongoeco-server.py"
        let python = ProcessInfo.processInfo.environment["AUTHGATE_TEST_PYTHON"] ?? root + "/.venv-mongoeco/bin/python"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            return .failure(TestSetupError("no Python venv with mongoeco at \(python): run scripts/test (it creates .venv-mongoeco)"))
        }
        return .success((python, script))
    }

    /// Whether MongoDB tests can run; under CI they must, so they run (and fail) regardless.
    public static var isAvailable: Bool {
        if case .success = launcher() { return true }
        return TestEnvironment.isCI
    }

    /// Why MongoDB tests are skipped, for `.enabled(if:)`.
    public static var unavailableReason: String {
        if case .failure(let reason) = launcher() { return "MongoDB tests skipped: \(reason)" }
        return "MongoDB is available"
    }

    /// One in-memory server shared by every test of this process; it stops when the process does.
    static let shared = Task { () throws -> MongoEcoServer in
        let server = try MongoEcoServer(directory: TestEnvironment.temporaryDirectory(), sqlite: false)
        try await server.start(exitWithParent: true)
        return server
    }

    /// The shared server's base URI (a test picks its own database name).
    public static func sharedURI() async throws -> String { try await shared.value.uri(database: "authgate_test") }

    /// A server of the caller's own; with `sqlite` its data survives `stop()` and `start()`.
    public init(directory: String, sqlite: Bool = true) throws {
        self.directory = directory
        self.sqlite = sqlite
        port = try TestEnvironment.freePort()
    }

    public var uri: String { uri(database: "authgate_outage") }

    public func uri(database: String) -> String { "mongodb://127.0.0.1:\(port)/\(database)" }

    public func start(exitWithParent: Bool = false) async throws {
        let (python, script) = try Self.launcher().get()
        let portFile = directory + "/mongoeco.port"
        try? FileManager.default.removeItem(atPath: portFile)
        var arguments = [script, "--host", "127.0.0.1", "--port", String(port), "--port-file", portFile]
        if sqlite { arguments += ["--sqlite", directory + "/mongoeco.sqlite"] }
        if exitWithParent { arguments.append("--exit-with-parent") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        self.process = process
        for _ in 0..<300 {
            if FileManager.default.fileExists(atPath: portFile) { return }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestSetupError("mongoeco did not start (python \(python))")
    }

    /// SIGTERM, so mongoeco closes its SQLite file cleanly; SIGKILL if it has not exited in 5 s.
    /// Polls instead of waitUntilExit, which would block a cooperative thread.
    public func stop() async {
        guard let process else { return }
        self.process = nil
        process.terminate()
        for _ in 0..<50 where process.isRunning {
            try? await Task.sleep(for: .milliseconds(100))
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
