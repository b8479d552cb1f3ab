// Browser: headless Chromium for the browser test: Debian's chromium and chromium-driver and the
// venv's Selenium, and whether they really start here (checked once, by launching the browser).
import AuthGateTesting
import Foundation

enum Browser {
    struct Programs: Sendable {
        var chromium: String
        var chromedriver: String
        var python: String
    }

    /// The tools, or why the browser test cannot run here.
    static let probe: Result<Programs, TestSetupError> = {
        guard let chromium = Tools.find("chromium") else {
            return .failure(TestSetupError("browser test skipped: chromium is not installed (scripts/test installs it)"))
        }
        guard let chromedriver = Tools.find("chromedriver") else {
            return .failure(TestSetupError("browser test skipped: chromedriver is not installed (apt package chromium-driver; scripts/test installs it)"))
        }
        guard let python = TestPython.path else { return .failure(TestSetupError("browser test skipped: \(TestPython.unavailableReason)")) }
        if let failure = run(python, ["-c", "import selenium"]) {
            return .failure(TestSetupError("browser test skipped: the venv has no Selenium (scripts/test installs it): \(failure)"))
        }
        // The flags the test uses: a container has no user namespaces for the sandbox, and a small /dev/shm.
        if let failure = run(chromium, ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--dump-dom", "about:blank"]) {
            return .failure(TestSetupError("browser test skipped: chromium does not start here: \(failure)"))
        }
        return .success(Programs(chromium: chromium, chromedriver: chromedriver, python: python))
    }()

    /// Whether the test runs: when the browser starts, and always under CI (where a missing one fails).
    static var isUsable: Bool {
        if case .success = probe { return true }
        return TestEnvironment.isCI
    }

    static var unavailableReason: String {
        if case .failure(let reason) = probe { return reason.description }
        return "the browser starts"
    }

    /// Runs a short command; nil when it exits 0 within 60 s, else what went wrong.
    private static func run(_ executable: String, _ arguments: [String]) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        // A file, not a pipe: Chromium is chatty on stderr, and a full pipe would stall it.
        let log = NSTemporaryDirectory() + "authgate-browser-probe-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: log) }
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        guard let errors = FileHandle(forWritingAtPath: log) else { return "cannot write \(log)" }
        defer { try? errors.close() }
        process.standardError = errors
        do { try process.run() } catch { return "\(error)" }
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning, Date() < deadline { usleep(50_000) }
        if process.isRunning {
            process.terminate()
            return "\(executable) did not finish within 60 s"
        }
        guard process.terminationStatus == 0 else {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            return "exit \(process.terminationStatus): \(text.suffix(500))"
        }
        return nil
    }
}
