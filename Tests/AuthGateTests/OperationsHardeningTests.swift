// OperationsHardeningTests: the review's findings about resources and operations: a client
// that sends its headers slowly is cut off; a flood of /readyz does not become a flood of store
// and ShotGrid checks; a proxy that is not trusted is warned about once; a blocked token stays
// blocked as long as any access token could live.
@testable import AuthGate
import AuthGateTesting
import Foundation
import HTTPTypes
import Logging
import Testing

@Suite struct OperationsHardeningTests {
    /// A slowloris: the first bytes of a request line, then nothing. The connection is closed
    /// after idle-timeout; a client that keeps talking is not.
    @Test func aClientSendingHeadersTooSlowlyIsCutOff() async throws {
        try await withGateway(.sqlite, configure: { $0.idleTimeout = 1 }) { gateway in
            let closed = try await RawHTTPConnection.with(port: gateway.port) { connection -> Bool in
                let started = Date()
                // On a starved machine the idle timeout may pass before this write: cut off too.
                do { try await connection.write("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ") } catch { return true }
                let answer = try? await connection.readResponse()
                return answer == nil && Date().timeIntervalSince(started) < 30
            }
            #expect(closed, "the half-sent request was not cut off")
            #expect(try await gateway.client.get("/healthz").status == 200)
        }
    }

    /// Readiness results are kept a moment: 50 probes in a row do not make 50 ShotGrid checks.
    @Test func readinessProbesAreCachedAndDoNotReachShotGridEachTime() async throws {
        try await withShotGridGateway(.sqlite) { gateway, fake in
            let before = fake.requestCount("/api/v1")
            let started = Date()
            for _ in 0..<50 {
                let ready = try await gateway.client.get("/readyz")
                #expect(ready.status == 200)
            }
            // A result is kept 2 s: at most one check per 2 s the probes took, however slow the machine.
            let allowed = Int(Date().timeIntervalSince(started) / 2) + 1
            let checks = fake.requestCount("/api/v1") - before
            #expect(checks <= allowed && checks < 50, "\(checks) checks for 50 probes (\(allowed) allowed)")
        }
    }

    @Test func forwardedForFromAnUntrustedPeerIsWarnedAboutOnce() throws {
        let log = CapturedLog()
        let resolver = ClientAddress(trustedProxies: [IPNetwork("10.0.0.0/8")!], logger: log.logger)
        var headers: HTTPFields = [HTTPField.Name("X-Forwarded-For")!: "198.51.100.1"]
        #expect(resolver.resolve(peer: "192.0.2.5", headers: headers)?.description == "192.0.2.5")
        #expect(resolver.resolve(peer: "192.0.2.6", headers: headers)?.description == "192.0.2.6")
        #expect(log.lines.filter { $0.contains("trusted-proxies") }.count == 1)
        // From a trusted proxy (here IPv4-mapped) the nearest untrusted hop is the client.
        headers = [HTTPField.Name("X-Forwarded-For")!: "203.0.113.9, 10.1.2.3"]
        #expect(resolver.resolve(peer: "::ffff:10.9.9.9", headers: headers)?.description == "203.0.113.9")
    }

    /// `tokens revoke JTI` knows only the id: the block lasts as long as any access token can
    /// (the session's absolute lifetime), not the CLI's own access TTL.
    @Test func aBlockedTokenStaysBlockedAsLongAsAnyTokenCouldLive() async throws {
        try await withStore(.sqlite) { store in
            let revoker = Revoker(store: store, view: nil, pool: nil, sessionMaxTTL: 86400, logger: Logger(label: "test"))
            let now = Date()
            try await revoker.blockAccessToken(jti: "jti-1", now: now)
            let (batch, _) = try await store.revocations(after: nil, revokedSince: .distantPast, now: now.addingTimeInterval(86000))
            #expect(batch.tokens.map(\.jti) == ["jti-1"])
            let until = try #require(batch.tokens.first?.expiresAt)
            #expect(until.timeIntervalSince(now) >= 86400)
        }
    }
}

/// Log lines captured in memory, for tests that check what was logged.
final class CapturedLog: @unchecked Sendable {
    // `@unchecked Sendable`: `lines` is only touched under `lock`.
    private let lock = NSLock()
    private var stored: [String] = []

    var lines: [String] { lock.withLock { stored } }

    var logger: Logger {
        Logger(label: "captured") { [self] label in Handler(label: label, log: self) }
    }

    func append(_ line: String) { lock.withLock { stored.append(line) } }

    struct Handler: LogHandler {
        let label: String
        let log: CapturedLog
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            log.append(GatewayLogHandler.text(time: Date(), level: event.level, label: label, message: "\(event.message)", metadata: event.metadata ?? [:]))
        }
    }
}
