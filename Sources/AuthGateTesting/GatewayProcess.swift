// GatewayProcess: the built `authgate` binary running as a separate process on a free port,
// for tests that need a real process (memory, signals, a gateway beside the test's own servers).
public import Foundation
import Synchronization

public final class GatewayProcess: Sendable {

    /// How the process ended.
    public struct Exit: Sendable, CustomStringConvertible {
        /// The exit code, when it exited by itself.
        public var status: Int32?
        /// The signal that ended it, when one did.
        public var signal: Int32?
        /// True when SIGTERM was not enough and `stop()` had to SIGKILL it.
        public var killed: Bool
        /// Everything it wrote to stderr.
        public var stderr: String

        public var description: String {
            let how = status.map { "exit \($0)" } ?? signal.map { "signal \($0)" } ?? "unknown"
            return "\(how)\(killed ? " (SIGKILL after SIGTERM timed out)" : ""); stderr: \(stderr.suffix(2000))"
        }
    }

    public let pid: pid_t
    public let port: Int
    /// Holds the process's stdout and stderr; removed by `stop()`.
    public let directory: String
    private let exit = Mutex<Exit?>(nil)

    public var baseURL: String { "http://127.0.0.1:\(port)" }
    public var client: TestHTTPClient { TestHTTPClient(baseURL: baseURL) }
    public var stderrPath: String { directory + "/stderr" }

    private init(pid: pid_t, port: Int, directory: String) {
        self.pid = pid
        self.port = port
        self.directory = directory
    }

    /// A test that forgot `stop()` (or died in a `#require`) must not leave a gateway behind.
    deinit {
        if self.reap() == nil {
            kill(self.pid, SIGKILL)
            var status: Int32 = 0
            waitpid(self.pid, &status, 0)
        }
        try? FileManager.default.removeItem(atPath: self.directory)
    }

    /// Runs `authgate` with `arguments` plus `--listen 127.0.0.1:PORT` on a free port, and the
    /// test's environment minus any `AUTHGATE_*` variable plus `environment`. Returns once
    /// `GET /healthz` answers 200; throws with the stderr tail if the process exits first or is
    /// not ready within `readyWithin`. A port taken in the meantime is retried on a new one.
    public static func start(
        arguments: [String] = ["serve"],
        environment: [String: String] = [:],
        readyWithin: Duration = .seconds(60)
    ) async throws -> GatewayProcess {
        let binary = try OperatorCLI.binary()
        var attempt = 0
        while true {
            attempt += 1
            let port = try TestEnvironment.freePort()
            let directory = try TestEnvironment.temporaryDirectory()
            let pid: pid_t
            do {
                pid = try self.spawn(
                    binary,
                    arguments: arguments + ["--listen", "127.0.0.1:\(port)"],
                    environment: environment,
                    directory: directory
                )
            } catch {
                try? FileManager.default.removeItem(atPath: directory)
                throw error
            }
            let process = GatewayProcess(pid: pid, port: port, directory: directory)
            do {
                try await process.waitUntilReady(within: readyWithin)
                return process
            } catch {
                let exit = await process.stop()
                guard let notReady = error as? NotReady else { throw error }
                // Another test took the port between freePort() and the bind: try a new one.
                if notReady.exited, exit.stderr.contains("already in use"), attempt < 3 { continue }
                throw TestSetupError("authgate did not get ready: \(notReady.reason); \(exit)")
            }
        }
    }

    private struct NotReady: Error {
        var reason: String
        var exited: Bool
    }

    private func waitUntilReady(within limit: Duration) async throws {
        let deadline = ContinuousClock.now.advanced(by: limit)
        let client = TestHTTPClient(baseURL: baseURL)
        while ContinuousClock.now < deadline {
            if self.reap() != nil {
                throw NotReady(reason: "it exited before answering /healthz", exited: true)
            }
            if let answer = try? await client.send("GET", "/healthz", timeout: 2), answer.status == 200 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw NotReady(reason: "/healthz did not answer 200 within \(limit)", exited: false)
    }

    // MARK: Observations

    /// True until the process has been seen to exit.
    public var isRunning: Bool { self.reap() == nil }

    /// Resident memory (VmRSS of /proc/PID/status), nil once it has exited.
    public func rssBytes() -> Int? {
        guard let kilobytes = self.procStatusField("VmRSS:")?.split(separator: " ").first.flatMap({ Int($0) }) else { return nil }
        return kilobytes * 1024
    }

    /// The main thread's blocked-signal mask (SigBlk of /proc/PID/status); bit n-1 is signal n.
    public func blockedSignals() -> UInt64? {
        self.procStatusField("SigBlk:").flatMap { UInt64($0, radix: 16) }
    }

    /// The last `bytes` of what the process wrote to stderr so far.
    public func stderrTail(_ bytes: Int = 4000) -> String {
        let text = (try? String(contentsOfFile: self.stderrPath, encoding: .utf8)) ?? ""
        return String(text.suffix(bytes))
    }

    private func procStatusField(_ name: String) -> String? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix(name) {
            return line.dropFirst(name.count).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }

    // MARK: Stopping

    /// SIGTERM, then polls for the exit; SIGKILL if it is still running after `grace`. Removes
    /// the log directory; the returned `Exit` keeps stderr. Idempotent.
    @discardableResult
    public func stop(grace: Duration = .seconds(5)) async -> Exit {
        var killed = false
        if self.reap() == nil {
            kill(self.pid, SIGTERM)
            let deadline = ContinuousClock.now.advanced(by: grace)
            while self.reap() == nil, ContinuousClock.now < deadline {
                await Self.pause()
            }
            if self.reap() == nil {
                killed = true
                kill(self.pid, SIGKILL)
                while self.reap() == nil {
                    await Self.pause()
                }
            }
        }
        var exit = self.reap() ?? Exit(status: nil, signal: nil, killed: false, stderr: "")
        if killed { exit.killed = true }
        if FileManager.default.fileExists(atPath: self.directory) {
            exit.stderr = (try? String(contentsOfFile: self.stderrPath, encoding: .utf8)) ?? ""
            self.exit.withLock { $0 = exit }
            try? FileManager.default.removeItem(atPath: self.directory)
        }
        return exit
    }

    /// 50 ms, even in a cancelled task (where Task.sleep returns at once), so stopping after a
    /// cancellation polls instead of spinning.
    private static func pause() async {
        if Task.isCancelled {
            usleep(50_000)
        } else {
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// The exit once the child has ended (reaping it exactly once), else nil.
    private func reap() -> Exit? {
        self.exit.withLock { exit -> Exit? in
            if let exit { return exit }
            var status: Int32 = 0
            let result = waitpid(self.pid, &status, WNOHANG)
            guard result == self.pid else { return nil }
            // The <sys/wait.h> macros are not imported: low 7 bits are the signal, 0 for a normal exit.
            let signal = status & 0x7f
            exit = Exit(status: signal == 0 ? (status >> 8) & 0xff : nil, signal: signal == 0 ? nil : signal, killed: false, stderr: "")
            return exit
        }
    }

    // MARK: Spawning

    /// posix_spawn with an empty signal mask and default dispositions: a child started from a
    /// `swift test` worker thread would otherwise inherit that thread's mask, in which SIGTERM
    /// may be blocked, and never see the graceful-shutdown signal.
    private static func spawn(_ path: String, arguments: [String], environment: [String: String], directory: String) throws -> pid_t {
        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        // Files, not pipes: a pipe nobody drains would block the child once full.
        posix_spawn_file_actions_addopen(&fileActions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&fileActions, 1, directory + "/stdout", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&fileActions, 2, directory + "/stderr", O_WRONLY | O_CREAT | O_TRUNC, 0o600)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var variables = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AUTHGATE_") }
        variables.merge(environment) { $1 }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &fileActions, &attributes, argv, envp)
        guard result == 0 else { throw TestSetupError("posix_spawn \(path) failed: \(String(cString: strerror(result)))") }
        return pid
    }
}
