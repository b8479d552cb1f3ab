// OperatorCLI: runs the real `authgate` binary (built beside the test bundle by
// `swift build --build-tests`) as an operator would, against a test's store.
import Foundation

public struct CLIResult: Sendable, CustomStringConvertible {
    public let status: Int32
    public let stdout: String
    public let stderr: String

    public var description: String { "exit \(status); stdout: \(stdout); stderr: \(stderr)" }

    /// stdout parsed as a JSON array of objects (`--json` listings); empty if it is not one.
    public var jsonArray: [[String: Any]] {
        ((try? JSONSerialization.jsonObject(with: Data(stdout.utf8))) as? [[String: Any]]) ?? []
    }
}

public struct OperatorCLI: Sendable {
    /// AUTHGATE_* settings passed to every run (store, key ring, ...).
    public var settings: [String: String]

    public init(store: String, keysPath: String, settings: [String: String] = [:]) {
        self.settings = ["AUTHGATE_STORE": store, "AUTHGATE_KEYS": keysPath].merging(settings) { $1 }
    }

    /// The binary: AUTHGATE_TEST_BINARY, else `authgate` in the test bundle's build directory.
    public static func binary() throws -> String {
        if let path = ProcessInfo.processInfo.environment["AUTHGATE_TEST_BINARY"] { return path }
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let path = directory.appendingPathComponent("authgate").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw TestSetupError("no authgate binary at \(path): run `swift build --build-tests` first")
        }
        return path
    }

    public func run(_ arguments: [String], stdin: String? = nil) async throws -> CLIResult {
        let directory = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.binary())
        process.arguments = arguments
        // Only this run's settings: none from the developer's shell.
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AUTHGATE_") }
        environment.merge(settings) { $1 }
        process.environment = environment
        // Files, not pipes: a full pipe would block the child while nobody reads it.
        let outPath = directory + "/stdout", errPath = directory + "/stderr"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        let input = Pipe()
        process.standardInput = input
        let exited = AsyncStream<Int32>.makeStream()
        process.terminationHandler = { exited.continuation.yield($0.terminationStatus) }
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let status = await exited.stream.first { _ in true } ?? -1
        return CLIResult(
            status: status,
            stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
    }
}
