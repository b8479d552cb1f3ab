// ForwardedClientTests: `trusted-proxies` and X-Forwarded-For: the client address a session
// records (GET /auth/sessions) and login regulation counts, over IPv4, IPv6 and IPv4-mapped IPv6
// peers; an untrusted peer's header is ignored.
@testable import AuthGate
import AuthGateTesting
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Testing

/// Adds the local user alice / correct-horse-1 to `store`.
func addAlice(_ store: any SessionStore) async throws {
    let hash = try await TestPasswords.hash("correct-horse-1")
    try await store.insertUser(UserRecord(id: "user-alice", login: "alice", email: "alice@example.com", name: "Alice A", passwordHash: hash, createdAt: Date()))
}

/// A gateway on SQLite listening on `host` (TestGateway always takes 127.0.0.1), with alice;
/// `body` gets the port. Stopped (by cancellation) and its folder removed afterwards.
func withGateway(listeningOn host: String, configure: (inout GatewayConfig) -> Void, _ body: (_ port: Int) async throws -> Void) async throws {
    try await withStoreSetting(.sqlite) { setting, directory in
        var config = GatewayConfig.forTest(store: setting, directory: directory)
        configure(&config)
        config.listenHost = host
        config.listenPort = 0
        var logger = Logger(label: "authgate-test")
        // Stopped by cancellation, HummingbirdCore logs "Already closed" as an error: noise here.
        logger.logLevel = .critical
        let ring = try KeyRingFile.loadOrCreate(path: config.keysPath, jwtSecret: nil, sealKey: nil).ring
        let components = try await GatewayComponents(config: config, keys: ring, logger: logger)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Gateway.buildApplication(components) { port in
            continuation.yield(port)
            continuation.finish()
        }
        let server = Task {
            defer { continuation.finish() }
            // No signal handlers: the test stops it by cancelling the task.
            try await app.runService(gracefulShutdownSignals: [])
        }
        try await finally({
            guard let port = await ports.first(where: { _ in true }), port > 0 else {
                throw TestSetupError("gateway on \(host) did not start: \(await server.result)")
            }
            try await addAlice(components.store)
            try await body(port)
        }, {
            server.cancel()
            _ = await server.result
        })
    }
}

/// Signs alice in on `host`:`port` with `forwardedFor` (if any) and returns the client_ip of
/// the session, as GET /auth/sessions shows it. Raw HTTP: URLSession here refuses IPv6 literals.
func recordedClientIP(host: String = "127.0.0.1", port: Int, forwardedFor: String?) async throws -> String? {
    let authority = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    var headers = [HeaderLine("Host", authority), HeaderLine("Content-Type", "application/json")]
    if let forwardedFor { headers.append(HeaderLine("X-Forwarded-For", forwardedFor)) }
    let signedIn = try await RawHTTPConnection.with(port: port, host: host) { connection in
        try await connection.send("POST", "/auth/login", headers: headers, body: Array(#"{"username":"alice","password":"correct-horse-1"}"#.utf8))
    }
    try #require(signedIn.status == 200, "\(signedIn.text)")
    let access = try #require(signedIn.json["access_token"] as? String)
    let listed = try await RawHTTPConnection.with(port: port, host: host) { connection in
        try await connection.send("GET", "/auth/sessions", headers: [HeaderLine("Host", authority), HeaderLine("Authorization", "Bearer \(access)")])
    }
    let sessions = try #require(listed.json["sessions"] as? [[String: Any]], "\(listed.text)")
    return sessions.first { $0["id"] as? String == signedIn.json["session_id"] as? String }?["client_ip"] as? String
}

/// What the gateway trusts, what the peer forwards, and the client address that should result.
struct ForwardingCase: Sendable, CustomTestStringConvertible {
    var peer = "127.0.0.1"
    var trusted: [String]
    var forwardedFor: [String]
    var expected: String
    var testDescription: String { "peer \(peer), trusted \(trusted), X-Forwarded-For \(forwardedFor) → \(expected)" }
}

// Serialized: one gateway at a time.
@Suite(.serialized) struct ForwardedClientTests {
    static let resolutions = [
        ForwardingCase(trusted: ["127.0.0.1"], forwardedFor: ["203.0.113.7"], expected: "203.0.113.7"),
        ForwardingCase(trusted: ["127.0.0.0/8"], forwardedFor: ["203.0.113.7"], expected: "203.0.113.7"),
        // The trusted list written as IPv4-mapped IPv6 means the same addresses.
        ForwardingCase(trusted: ["::ffff:127.0.0.1"], forwardedFor: ["203.0.113.7"], expected: "203.0.113.7"),
        // An IPv6 client behind an IPv4 proxy; an IPv4-mapped client reads as IPv4.
        ForwardingCase(trusted: ["127.0.0.1"], forwardedFor: ["2001:db8::7"], expected: "2001:db8::7"),
        ForwardingCase(trusted: ["127.0.0.1"], forwardedFor: ["::ffff:203.0.113.9"], expected: "203.0.113.9"),
        // A chain: trusted hops are skipped from the right; the first untrusted one is the client,
        // also when the hops come in separate header lines.
        ForwardingCase(trusted: ["127.0.0.0/8", "10.0.0.0/8"], forwardedFor: ["198.51.100.9, 10.0.0.5"], expected: "198.51.100.9"),
        ForwardingCase(trusted: ["127.0.0.0/8", "10.0.0.0/8"], forwardedFor: ["198.51.100.9", "10.0.0.5"], expected: "198.51.100.9"),
        ForwardingCase(trusted: ["127.0.0.1"], forwardedFor: ["198.51.100.9, 10.0.0.5"], expected: "10.0.0.5"),
        ForwardingCase(trusted: ["127.0.0.1"], forwardedFor: [], expected: "127.0.0.1"),
        ForwardingCase(trusted: ["127.0.0.1"], forwardedFor: ["not-an-address"], expected: "127.0.0.1"),
        // An untrusted peer's header is ignored.
        ForwardingCase(trusted: [], forwardedFor: ["203.0.113.7"], expected: "127.0.0.1"),
        ForwardingCase(trusted: ["10.0.0.0/8", "::1"], forwardedFor: ["203.0.113.7"], expected: "127.0.0.1"),
        // IPv6 peers, by address and by range.
        ForwardingCase(peer: "::1", trusted: ["::1"], forwardedFor: ["203.0.113.7"], expected: "203.0.113.7"),
        ForwardingCase(peer: "2001:db8:1::5", trusted: ["2001:db8:1::/48"], forwardedFor: ["2001:db8:2::9"], expected: "2001:db8:2::9"),
        ForwardingCase(peer: "2001:db8:3::5", trusted: ["2001:db8:1::/48"], forwardedFor: ["203.0.113.7"], expected: "2001:db8:3::5"),
        // An IPv4 client on an IPv6 socket: the same address as IPv4.
        ForwardingCase(peer: "::ffff:127.0.0.1", trusted: ["127.0.0.0/8"], forwardedFor: ["203.0.113.7"], expected: "203.0.113.7"),
        ForwardingCase(peer: "::ffff:127.0.0.1", trusted: [], forwardedFor: ["203.0.113.7"], expected: "127.0.0.1"),
    ]

    @Test(arguments: resolutions)
    func clientAddressIsTheNearestHopThatIsNotATrustedProxy(_ forwarding: ForwardingCase) throws {
        var logger = Logger(label: "authgate-test")
        logger.logLevel = .critical
        let networks = forwarding.trusted.compactMap { IPNetwork($0) }
        #expect(networks.count == forwarding.trusted.count)
        var headers = HTTPFields()
        for value in forwarding.forwardedFor { headers.append(HTTPField(name: HTTPField.Name("X-Forwarded-For")!, value: value)) }
        let resolved = ClientAddress(trustedProxies: networks, logger: logger).resolve(peer: forwarding.peer, headers: headers)
        #expect(resolved?.description == forwarding.expected)
    }

    /// Over real IPv4 sockets: what the session records as client_ip.
    @Test(arguments: [
        ForwardingCase(trusted: ["127.0.0.1"], forwardedFor: ["203.0.113.7"], expected: "203.0.113.7"),
        ForwardingCase(trusted: ["127.0.0.0/8", "10.0.0.0/8"], forwardedFor: ["198.51.100.9, 10.0.0.5"], expected: "198.51.100.9"),
        ForwardingCase(trusted: ["10.0.0.0/8"], forwardedFor: ["203.0.113.7"], expected: "127.0.0.1"),
    ])
    func sessionRecordsTheClientATrustedProxyForwards(_ forwarding: ForwardingCase) async throws {
        try await withGateway(.sqlite, configure: { $0.trustedProxies = forwarding.trusted.compactMap { IPNetwork($0) } }) { gateway in
            let recorded = try await recordedClientIP(port: gateway.port, forwardedFor: forwarding.forwardedFor.first)
            #expect(recorded == forwarding.expected)
        }
    }

    /// Over a real IPv6 socket (::1), trusted by range.
    @Test func ipv6PeerTrustedByRangeForwardsTheClient() async throws {
        try await withGateway(listeningOn: "::1", configure: { $0.trustedProxies = [IPNetwork("::/120")!] }) { port in
            let recorded = try await recordedClientIP(host: "::1", port: port, forwardedFor: "2001:db8::8")
            #expect(recorded == "2001:db8::8")
        }
    }

    /// An IPv4 client on an IPv6 socket is seen as ::ffff:127.0.0.1: it matches the IPv4 entry
    /// of trusted-proxies, and untrusted it is recorded as plain IPv4.
    @Test(arguments: [
        ForwardingCase(trusted: ["127.0.0.1"], forwardedFor: ["203.0.113.7"], expected: "203.0.113.7"),
        ForwardingCase(trusted: [], forwardedFor: ["203.0.113.7"], expected: "127.0.0.1"),
    ])
    func ipv4MappedPeerIsTheSameAddressAsIPv4(_ forwarding: ForwardingCase) async throws {
        try await withGateway(listeningOn: "::ffff:127.0.0.1", configure: { $0.trustedProxies = forwarding.trusted.compactMap { IPNetwork($0) } }) { port in
            let recorded = try await recordedClientIP(port: port, forwardedFor: forwarding.forwardedFor.first)
            #expect(recorded == forwarding.expected)
        }
    }

    /// Behind one trusted proxy, a client that guesses passwords is banned by its own address;
    /// another client behind the same proxy still signs in.
    @Test func loginRegulationCountsTheForwardedClientNotTheProxy() async throws {
        try await withGateway(.sqlite, configure: {
            $0.trustedProxies = [IPNetwork("127.0.0.1")!]
            $0.loginMaxFailures = 3
        }) { gateway in
            func attempt(_ username: String, _ password: String, from client: String) async throws -> TestResponse {
                try await gateway.client.postJSON("/auth/login", ["username": username, "password": password], headers: ["X-Forwarded-For": client])
            }
            // Different logins, so only the address counter reaches the limit.
            for index in 0..<3 { #expect(try await attempt("guess-\(index)", "wrong-password", from: "203.0.113.66").status == 401) }
            let banned = try await attempt("alice", "correct-horse-1", from: "203.0.113.66")
            #expect(banned.status == 429 && banned.errorCode == "rate_limited" && banned.header("Retry-After") != nil)
            #expect(try await attempt("alice", "correct-horse-1", from: "203.0.113.67").status == 200)
            // The proxy itself (no header) is not banned either.
            #expect(try await login(gateway).status == 200)
        }
    }
}
