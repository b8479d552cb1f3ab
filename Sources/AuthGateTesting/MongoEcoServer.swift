// MongoEcoServer: a mongoeco wire server this test owns, persisted in SQLite, so an outage test
// can stop it and start it again on the same port with the data intact.
public import Foundation

public final class MongoEcoServer: @unchecked Sendable {
    public let port: Int
    let directory: String
    private var process: Process?

    /// nil when scripts/test has not provided the python and script (outside CI only).
    public static func available() throws -> (python: String, script: String)? {
        let env = ProcessInfo.processInfo.environment
        guard let python = env["AUTHGATE_TEST_PYTHON"], let script = env["AUTHGATE_TEST_MONGOECO_SCRIPT"] else {
            if TestEnvironment.isCI { throw TestSetupError("AUTHGATE_TEST_PYTHON / AUTHGATE_TEST_MONGOECO_SCRIPT not set") }
            return nil
        }
        return (python, script)
    }

    public init(directory: String) throws {
        self.directory = directory
        port = try TestEnvironment.freePort()
    }

    public var uri: String { "mongodb://127.0.0.1:\(port)/authgate_outage" }

    public func start() async throws {
        guard let (python, script) = try Self.available() else { throw TestSetupError("mongoeco not available") }
        let portFile = directory + "/mongoeco.port"
        try? FileManager.default.removeItem(atPath: portFile)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script, "--host", "127.0.0.1", "--port", String(port), "--sqlite", directory + "/mongoeco.sqlite", "--port-file", portFile]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        self.process = process
        for _ in 0..<300 {
            if FileManager.default.fileExists(atPath: portFile) { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestSetupError("mongoeco did not start")
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

    /// For `defer` blocks, which cannot await: kills at once.
    public func killNow() {
        guard let process else { return }
        self.process = nil
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
