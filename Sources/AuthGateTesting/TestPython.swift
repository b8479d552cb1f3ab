// TestPython: the project's Python venv (the one scripts/test makes for mongoeco, with PyJWT and
// pymongo) for tests that check interoperability with the reference libraries.
import Foundation

public enum TestPython {
    /// The venv's interpreter, when it exists.
    public static var path: String? { try? MongoEcoServer.launcher().get().python }

    /// Whether Python tests can run; under CI they must, so they run (and fail) regardless.
    public static var isAvailable: Bool { path != nil || TestEnvironment.isCI }

    public static var unavailableReason: String {
        if case .failure(let reason) = MongoEcoServer.launcher() { return "Python tests skipped: \(reason)" }
        return "Python is available"
    }

    /// Runs `script` with `arguments`; returns its exit status and standard output.
    public static func run(_ script: String, _ arguments: [String] = []) async throws -> (status: Int32, output: String) {
        guard let python = path else { throw TestSetupError(unavailableReason) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Read before waiting, so a large output cannot fill the pipe and stall the child.
        let data = output.fileHandleForReading.readDataToEndOfFile()
        while process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// PyJWT's verdict on an HS256 token: its claims' `sub` and `aud` when it verifies with `key`
    /// for `audience` and `issuer`, nil otherwise.
    public static func verifyJWT(_ token: String, key: [UInt8], audience: String, issuer: String) async throws -> (sub: String, aud: String, kid: String)? {
        let script = """
            import jwt, sys, base64
            key = base64.b64decode(sys.argv[2])
            claims = jwt.decode(sys.argv[1], key, algorithms=["HS256"], audience=sys.argv[3], issuer=sys.argv[4], options={"require": ["exp", "iat", "nbf"]})
            print(claims["sub"], claims["aud"], jwt.get_unverified_header(sys.argv[1])["kid"])
            """
        let result = try await run(script, [token, Data(key).base64EncodedString(), audience, issuer])
        let words = result.output.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        guard result.status == 0, words.count == 3 else { return nil }
        return (words[0], words[1], words[2])
    }
}
