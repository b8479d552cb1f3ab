// MalformedRequestTests: a storm of a few thousand malformed requests over raw sockets at the real
// `authgate` binary (garbage, broken framing, huge or invalid headers, bad bodies and tokens,
// requests cut off midway), after which it must still be up and every session it had must work.
@testable import AuthGate
import AuthGateTesting
import Foundation
import Synchronization
import Testing

@Suite struct MalformedRequestTests {
    /// Connections opened by the storm; each carries one malformed case.
    static let cases = 2000
    /// Sockets working at once, each on its own thread (blocking I/O stays off the test pool).
    /// One: the storm is about what arrives, not how fast, and the parallel suite beside it has
    /// streaming tests with deadlines on a small machine.
    static let workers = 1

    @Test func stormOfMalformedRequestsLeavesGatewayAndSessionsIntact() async throws {
        try await withGatewayProcess([]) { gateway in
            var sessions: [(access: String, refresh: String)] = []
            for _ in 0..<2 {
                let body = try await gateway.client.postJSON("/auth/login", ["username": "alice", "password": "correct-horse-1"]).json
                sessions.append((try #require(body["access_token"] as? String), try #require(body["refresh_token"] as? String)))
            }
            // The storm is a load test inside a parallel suite: its server gets the CPU last.
            lowerPriority(of: gateway.pid)
            let storm = MalformedStorm(port: gateway.port, accessToken: sessions[0].access)
            let report = await storm.run(cases: Self.cases, workers: Self.workers)

            #expect(report.serverErrors.isEmpty, "5xx answers: \(report.serverErrors.prefix(5))")
            #expect(report.stalled.isEmpty, "connections neither answered nor closed: \(report.stalled.prefix(5))")
            #expect(report.pipelinedHealthAnswers == report.pipelinedCases, "a valid request before pipelined junk went unanswered")
            #expect(report.answered > Self.cases / 2, "only \(report.answered) of \(Self.cases) connections got an answer")
            #expect(gateway.isRunning, "authgate exited during the storm: \(gateway.stderrTail())")

            #expect(try await gateway.client.get("/healthz").status == 200)
            for (access, refresh) in sessions {
                #expect(try await gateway.client.get("/auth/me", bearer: access).status == 200)
                #expect(try await gateway.client.postJSON("/auth/refresh", ["refresh_token": refresh]).status == 200)
            }
            #expect(gateway.isRunning)
            let exit = await gateway.stop()
            #expect(!exit.killed && (exit.status == 0 || exit.signal == SIGTERM), "authgate did not stop cleanly after the storm: \(exit)")
        }
    }
}

/// Generates and sends the storm. Case `n` is always the same bytes (seeded by `n`); only the
/// interleaving of the workers varies from run to run.
struct MalformedStorm: Sendable {
    let port: Int
    /// A live access token, sent where the framing around it is what is broken.
    let accessToken: String

    struct Report: Sendable {
        var answered = 0
        var serverErrors: [String] = []
        var stalled: [String] = []
        var pipelinedCases = 0
        var pipelinedHealthAnswers = 0
    }

    /// The workers' shared tally.
    final class Tally: Sendable {
        let report = Mutex(Report())
    }

    func run(cases: Int, workers: Int) async -> Report {
        let tally = Tally()
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<workers {
                group.addTask {
                    await onThread {
                        for index in stride(from: worker, to: cases, by: workers) {
                            let result = self.exchange(index)
                            tally.report.withLock { $0.add(result, index: index) }
                        }
                    }
                }
            }
        }
        return tally.report.withLock { $0 }
    }

    struct Outcome: Sendable {
        var request: [UInt8]
        var statuses: [Int]
        var stalled: Bool
        var pipelined: Bool
    }

    /// One connection: the case's bytes, then (unless the case closes early) a half-close and
    /// every byte the gateway sends until it closes.
    func exchange(_ index: Int) -> Outcome {
        var random = SplitMix64(seed: UInt64(index) &* 0x9E37_79B9_7F4A_7C15 &+ 1)
        let request = MalformedRequests(accessToken: accessToken).make(&random)
        guard let socket = RawSocket(port: port) else { return Outcome(request: request.bytes, statuses: [], stalled: false, pipelined: false) }
        defer { socket.close() }
        socket.send(request.bytes)
        if request.closeEarly {
            // A client that gives up midway (slowloris, a dropped upload): sometimes a reset.
            if random.next() % 2 == 0 { socket.resetOnClose() }
            return Outcome(request: request.bytes, statuses: [], stalled: false, pipelined: false)
        }
        socket.shutdownWrite()
        let (answer, stalled) = socket.receiveAll(limit: 4 << 20)
        return Outcome(request: request.bytes, statuses: Self.statuses(in: answer), stalled: stalled, pipelined: request.pipelinedHealth)
    }

    /// Status codes of every response in a byte stream (status lines start a line).
    static func statuses(in bytes: [UInt8]) -> [Int] {
        var statuses: [Int] = []
        let prefix = Array("HTTP/1.".utf8)
        var lineStart = 0
        while lineStart + 12 <= bytes.count {
            if bytes[lineStart..<lineStart + prefix.count].elementsEqual(prefix),
                let code = Int(String(decoding: bytes[lineStart + 9..<lineStart + 12], as: UTF8.self))
            {
                statuses.append(code)
            }
            guard let newline = bytes[lineStart...].firstIndex(of: UInt8(ascii: "\n")) else { break }
            lineStart = newline + 1
        }
        return statuses
    }
}

extension MalformedStorm.Report {
    mutating func add(_ outcome: MalformedStorm.Outcome, index: Int) {
        let shown = { "case \(index): \(MalformedRequests.describe(outcome.request))" }
        if !outcome.statuses.isEmpty { answered += 1 }
        if let status = outcome.statuses.first(where: { $0 >= 500 }) { serverErrors.append("\(status) for \(shown())") }
        if outcome.stalled { stalled.append(shown()) }
        if outcome.pipelined {
            pipelinedCases += 1
            if outcome.statuses.first == 200 { pipelinedHealthAnswers += 1 }
        }
    }
}

/// Lowers the CPU priority of every thread of a process (nice is per thread on Linux), so a
/// storm's server yields to the tests running beside it instead of starving them.
func lowerPriority(of pid: pid_t) {
    guard let threads = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task") else { return }
    for thread in threads.compactMap({ id_t($0) }) { setpriority(__priority_which_t(PRIO_PROCESS.rawValue), thread, 10) }
}

/// Runs blocking work on a thread of its own, at low priority, and waits for it without holding
/// a pool thread.
func onThread(_ work: @escaping @Sendable () -> Void) async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        let thread = Thread {
            setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
            work()
            continuation.resume()
        }
        thread.start()
    }
}

/// SplitMix64: small, fast and fully determined by its seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The kinds of malformed request, each drawn with its own variations.
struct MalformedRequests {
    let accessToken: String

    struct Request {
        var bytes: [UInt8]
        /// Close without reading (a client giving up midway).
        var closeEarly = false
        /// Starts with a complete GET /healthz that must be answered 200 before the junk.
        var pipelinedHealth = false
    }

    static let paths = ["/auth/login", "/auth/refresh", "/auth/logout", "/auth/me", "/auth/verify", "/auth/sessions", "/healthz", "/readyz", "/metrics", "/nowhere"]

    func make(_ random: inout SplitMix64) -> Request {
        let kinds: [(inout SplitMix64) -> Request] = [
            garbage, truncatedRequestLine, hugeHeaders, invalidHeaders, badContentLength, brokenChunked, badBody, oversizeCredentials,
            weirdMethod, oddTarget, partialThenClose, pipelinedJunk, badVersion, validFramingBadToken,
        ]
        return kinds[Int(random.next() % UInt64(kinds.count))](&random)
    }

    static func pick<T>(_ items: [T], _ random: inout SplitMix64) -> T { items[Int(random.next() % UInt64(items.count))] }
    static func bytes(_ count: Int, _ random: inout SplitMix64) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) } }
    static func int(_ range: ClosedRange<Int>, _ random: inout SplitMix64) -> Int { Int.random(in: range, using: &random) }

    /// A well-formed request, the base most kinds break one thing of.
    static func head(_ method: String, _ path: String, _ headers: [String], body: [UInt8] = []) -> [UInt8] {
        Array("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\(headers.map { $0 + "\r\n" }.joined())\r\n".utf8) + body
    }

    func garbage(_ random: inout SplitMix64) -> Request {
        Request(bytes: Self.bytes(Self.int(1...600, &random), &random))
    }

    func truncatedRequestLine(_ random: inout SplitMix64) -> Request {
        let full = Array("POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{\"username\":\"alice\",\"password\":\"x\"}".utf8)
        return Request(bytes: Array(full.prefix(Self.int(1...full.count - 1, &random))))
    }

    func hugeHeaders(_ random: inout SplitMix64) -> Request {
        switch random.next() % 4 {
        case 0: return Request(bytes: Self.head("GET", "/healthz", ["X-Big: " + String(repeating: "a", count: Self.int(82_000...90_000, &random))]))
        case 1: return Request(bytes: Self.head("GET", "/auth/me", (0..<Self.int(990...1_100, &random)).map { "X-H\($0): v" }))
        case 2: return Request(bytes: Self.head("GET", "/healthz", ["Cookie: " + (0..<2_000).map { "c\($0)=v" }.joined(separator: "; ")]))
        default: return Request(bytes: Self.head("GET", "/" + String(repeating: "p", count: Self.int(10_000...90_000, &random)), []))
        }
    }

    func invalidHeaders(_ random: inout SplitMix64) -> Request {
        let broken = Self.pick(
            [
                "Bad Name: v", "Colon:In:Name", ": empty-name", "X-Nul: a\0b", "X-CR: a\rb", "\u{7f}Del: v", "X-Ünïcödé: v", "X-Value: ünïcödé",
                " Leading-Space: v", "X-Fold: a\r\n folded", "NoColonAtAll", "X-Tab\t: v", "Host: a\r\nHost: b", "Content-Type: \0",
                "Authorization: Bearer\0\(accessToken)", "Origin: \u{1}", "X-Request-Id: \u{7}\u{8}", "Cookie: authgate_refresh=\0;;;==",
            ], &random)
        return Request(bytes: Self.head(Self.pick(["GET", "POST"], &random), Self.pick(Self.paths, &random), [broken]))
    }

    func badContentLength(_ random: inout SplitMix64) -> Request {
        let framing = Self.pick(
            [
                ["Content-Length: -1"], ["Content-Length: 99999999999999999999999"], ["Content-Length: 12abc"], ["Content-Length: 0x10"],
                ["Content-Length: 5", "Content-Length: 6"], ["Content-Length: 5, 6"], ["Content-Length: 5", "Transfer-Encoding: chunked"],
                ["Transfer-Encoding: chunked", "Content-Length: 5"], ["Content-Length: 1000000"], ["Content-Length: "], ["Content-Length: +5"],
                ["Transfer-Encoding: gzip"], ["Transfer-Encoding: chunked, identity"], ["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"],
            ], &random)
        let body = Array("{\"refresh_token\":\"x\"}".utf8)
        return Request(bytes: Self.head("POST", Self.pick(["/auth/login", "/auth/refresh", "/auth/logout"], &random), ["Content-Type: application/json"] + framing, body: body))
    }

    func brokenChunked(_ random: inout SplitMix64) -> Request {
        let chunks = Self.pick(
            [
                "zz\r\nabc\r\n0\r\n\r\n", "5\r\nabc\r\n0\r\n\r\n", "ffffffffffffffffffff\r\nabc\r\n", "-1\r\nabc\r\n0\r\n\r\n", "3;ext=\0\r\nabc\r\n0\r\n\r\n",
                "3\r\nabcXX0\r\n\r\n", "3\nabc\n0\n\n", "3\r\nabc\r\n", "0\r\nTrailer: \0\r\n\r\n", "10000\r\n" + String(repeating: "a", count: 100),
                "3\r\n{\"a\r\n0\r\n\r\n", String(repeating: "1\r\na\r\n", count: 1_000) + "0\r\n\r\n",
            ], &random)
        return Request(bytes: Self.head("POST", Self.pick(["/auth/login", "/auth/refresh", "/nowhere"], &random), ["Content-Type: application/json", "Transfer-Encoding: chunked"]) + Array(chunks.utf8))
    }

    func badBody(_ random: inout SplitMix64) -> Request {
        let json = "application/json", form = "application/x-www-form-urlencoded"
        let texts: [(String, String)] = [
            (json, "{"), (json, "[]"), (json, "null"), (json, #"{"username":1,"password":[]}"#), (json, #"{"username":"\ud800","password":"x"}"#),
            (json, String(repeating: "[", count: 20_000)), (json, #"{"refresh_token":"\#(String(repeating: "r", count: 60_000))"}"#),
            (json, String(repeating: "x", count: 70_000)), (form, "username=%zz&password=%"), (form, "a[b][c][d][e][f]=1&username[]=x&password[0][1]=y"),
            (form, String(repeating: "&", count: 30_000)), (form, String(repeating: "a[", count: 10_000)), ("text/plain", "username=alice"),
            ("application/json; charset=utf-16", "{}"), ("multipart/form-data; boundary=x", "--x\r\n\r\n--x--"),
        ]
        var cases: [(String, [UInt8])] = texts.map { ($0.0, Array($0.1.utf8)) }
        cases.append((json, [0xff, 0xfe, 0x00]))
        cases.append((json, Self.bytes(200, &random)))
        let (type, body) = Self.pick(cases, &random)
        let path = Self.pick(["/auth/login", "/auth/refresh", "/auth/logout"], &random)
        return Request(bytes: Self.head("POST", path, ["Content-Type: \(type)", "Content-Length: \(body.count)"], body: body))
    }

    func oversizeCredentials(_ random: inout SplitMix64) -> Request {
        let big = String(repeating: "A", count: Self.int(8_193...20_000, &random))
        let header = Self.pick(
            ["Authorization: Bearer \(big)", "Authorization: Bearer \(accessToken)\(big)", "Authorization: \(big)", "Cookie: authgate_refresh=\(big)",
             "Authorization: Bearer \(big).\(big).\(big)", "X-Request-Id: \(big)", "Origin: https://\(big)"], &random)
        let (method, path) = Self.pick([("GET", "/auth/me"), ("GET", "/auth/verify"), ("POST", "/auth/refresh"), ("POST", "/auth/logout"), ("GET", "/auth/sessions")], &random)
        var headers = [header, "X-Authgate-CSRF: 1"]
        if method == "POST" { headers.append("Content-Length: 0") }
        return Request(bytes: Self.head(method, path, headers))
    }

    func weirdMethod(_ random: inout SplitMix64) -> Request {
        let method = Self.pick(
            ["FOO", "get", "G\0ET", "G E T", String(repeating: "M", count: 5_000), "CONNECT", "TRACE", "PRI", "DELETE", "PATCH", "OPTIONS", "HEAD", "\u{1}", "ÜBER"], &random)
        let path = method == "CONNECT" ? "127.0.0.1:443" : method == "PRI" ? "*" : Self.pick(Self.paths, &random)
        return Request(bytes: Self.head(method, path, ["Content-Length: 0"]))
    }

    func oddTarget(_ random: inout SplitMix64) -> Request {
        let target = Self.pick(
            ["/auth/me\0", "/%00", "/auth/%2e%2e/healthz", "*", "http://evil.example/auth/me", "//auth//me", "/auth/me?\(String(repeating: "q=1&", count: 5_000))",
             "/auth/sessions/%ff%fe", "/auth/sessions/\u{0}", "auth/me", "/auth/me#frag", "/\u{7f}", "/auth/sessions/" + String(repeating: "../", count: 1_000), ""], &random)
        return Request(bytes: Self.head(Self.pick(["GET", "DELETE", "POST"], &random), target, ["Authorization: Bearer \(accessToken)", "Content-Length: 0"]))
    }

    func partialThenClose(_ random: inout SplitMix64) -> Request {
        let full = Self.head("POST", "/auth/login", ["Content-Type: application/json", "Content-Length: 100000"], body: Array(repeating: UInt8(ascii: "{"), count: 3_000))
        return Request(bytes: Array(full.prefix(Self.int(1...full.count, &random))), closeEarly: true)
    }

    func pipelinedJunk(_ random: inout SplitMix64) -> Request {
        var bytes = Self.head("GET", "/healthz", [])
        for _ in 0..<Self.int(0...3, &random) { bytes += Self.head("GET", "/auth/verify", ["Authorization: Bearer \(accessToken)"]) }
        bytes += Self.bytes(Self.int(1...300, &random), &random)
        return Request(bytes: bytes, pipelinedHealth: true)
    }

    func badVersion(_ random: inout SplitMix64) -> Request {
        let version = Self.pick(["HTTP/0.9", "HTTP/2.0", "HTTP/1.1x", "HTTP/9.9", "HTTPS/1.1", "HTTP/1.", "http/1.1", "HTTP/1.1 extra"], &random)
        return Request(bytes: Array("GET /healthz \(version)\r\nHost: 127.0.0.1\r\n\r\n".utf8))
    }

    /// Framing is fine; the credential is a JWT-shaped or random string.
    func validFramingBadToken(_ random: inout SplitMix64) -> Request {
        let parts = accessToken.split(separator: ".").map(String.init)
        let token = Self.pick(
            [parts[0] + "." + parts[1] + ".", parts[0] + ".." + parts[2], "e30.e30.", String(accessToken.dropLast()), accessToken + "=", accessToken + ".x",
             Base64URL.encode(Self.bytes(Self.int(1...300, &random), &random)), "\(parts[0]).\(Base64URL.encode(Array(#"{"exp":1e400}"#.utf8))).\(parts[2])"], &random)
        let (method, path) = Self.pick([("GET", "/auth/me"), ("GET", "/auth/verify"), ("POST", "/auth/logout-all"), ("GET", "/auth/sessions"), ("DELETE", "/auth/sessions/x")], &random)
        return Request(bytes: Self.head(method, path, ["Authorization: Bearer \(token)", "Content-Length: 0"]))
    }

    /// A failing case's request, short and printable.
    static func describe(_ bytes: [UInt8]) -> String {
        let shown = bytes.prefix(120).map { (0x20..<0x7f).contains($0) ? String(UnicodeScalar($0)) : String(format: "\\x%02x", $0) }.joined()
        return "\"\(shown)\"\(bytes.count > 120 ? "… (\(bytes.count) bytes)" : "")"
    }
}

/// A blocking TCP connection to loopback, for bytes no HTTP client would send.
final class RawSocket {
    private var descriptor: Int32

    init?(port: Int) {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        // A generous bound on any one read, so a gateway that never closes cannot hang the test.
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard connected else {
            Glibc.close(descriptor)
            return nil
        }
    }

    /// Sends what the gateway takes; it may close early (a 431, a parse error), which is fine.
    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { return }
            offset += sent
        }
    }

    func shutdownWrite() { shutdown(descriptor, Int32(SHUT_WR)) }

    /// SO_LINGER 0: close sends a reset instead of a FIN.
    func resetOnClose() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
    }

    /// Everything until the gateway closes (or resets); `stalled` when a read timed out instead.
    func receiveAll(limit: Int) -> (bytes: [UInt8], stalled: Bool) {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while received.count < limit {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                received += buffer[..<count]
            } else if count == 0 || errno == ECONNRESET {
                return (received, false)
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                return (received, true)
            } else if errno != EINTR {
                return (received, false)
            }
        }
        return (received, false)
    }

    func close() {
        if descriptor >= 0 { Glibc.close(descriptor) }
        descriptor = -1
    }
}
