// AuditLogTests: the audit trail as an operator reads it: the gateway started with
// --log-format json writes one JSON object per line; every security event of the contract is
// there with its user, session, client address and request id; no line holds a secret; and in
// text format a crafted login cannot forge a line.
@testable import AuthGate
import AuthGateTesting
import Foundation
import Logging
import Testing

@Suite struct AuditLogTests {
    @Test func jsonLogCarriesEveryAuditEventAndNoSecret() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        try await finally({
            let store = "sqlite:\(directory)/authgate.db", keys = "\(directory)/keys.json"
            let cli = OperatorCLI(store: store, keysPath: keys, settings: ["AUTHGATE_LOG_FORMAT": "json"])
            let added = try await cli.run(["users", "add", "alice", "--password-stdin"], stdin: "correct-horse-1\n")
            #expect(added.status == 0 && added.stderr.contains(#""event":"user.added""#), "\(added)")
            let gateway = try await GatewayProcess.start(arguments: [
                "serve", "--store", store, "--keys", keys, "--log-format", "json", "--login-max-failures", "2",
            ])
            var secrets = ["correct-horse-1", "wrong-horse-1"]
            var requestIDs: [String] = []
            try await finally({
                let client = gateway.client
                let failed = try await client.send(
                    "POST", "/auth/login", headers: ["Content-Type": "application/json", "X-Request-Id": "req-failed-1"],
                    body: Data(#"{"username":"alice","password":"wrong-horse-1"}"#.utf8))
                #expect(failed.status == 401 && failed.header("X-Request-Id") == "req-failed-1")
                let signedIn = try await client.postJSON("/auth/login", ["username": "alice", "password": "correct-horse-1"])
                requestIDs.append(try #require(signedIn.header("X-Request-Id")))
                let access = try #require(signedIn.json["access_token"] as? String)
                let refresh = try #require(signedIn.json["refresh_token"] as? String)
                let sid = try #require(signedIn.json["session_id"] as? String)
                let refreshed = try await client.postJSON("/auth/refresh", ["refresh_token": refresh])
                let newRefresh = try #require(refreshed.json["refresh_token"] as? String)
                secrets += [access, refresh, newRefresh, try #require(refreshed.json["access_token"] as? String)]
                #expect(try await client.send("POST", "/auth/logout", headers: ["Authorization": "Bearer \(access)"]).status == 204)
                // A second session, ended by the operator; then the user is removed.
                let second = try await client.postJSON("/auth/login", ["username": "alice", "password": "correct-horse-1"])
                let secondID = try #require(second.json["session_id"] as? String)
                secrets += [try #require(second.json["access_token"] as? String), try #require(second.json["refresh_token"] as? String)]
                #expect(try await cli.run(["sessions", "revoke", secondID]).status == 0)
                #expect(try await cli.run(["tokens", "revoke", "0123456789abcdef0123456789abcdef"]).status == 0)
                #expect(try await cli.run(["keys", "rotate"]).status == 0)
                // Two failures ban the login: the next attempt is rate limited.
                for _ in 0..<3 { _ = try await client.postJSON("/auth/login", ["username": "alice", "password": "wrong-horse-1"]) }

                let lines = gateway.stderrTail(1 << 22).split(separator: "\n").map(String.init)
                let objects = lines.compactMap { line in (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] }
                #expect(objects.count == lines.count, "every line is one JSON object")
                let audit = objects.filter { $0["logger"] as? String == "authgate.audit" }
                func events(_ name: String) -> [[String: Any]] { audit.filter { $0["event"] as? String == name } }
                let failedLine = try #require(events("login.failed").first)
                #expect(failedLine["user"] as? String == "alice" && failedLine["client_ip"] as? String == "127.0.0.1")
                #expect(failedLine["request_id"] as? String == "req-failed-1")
                let succeeded = try #require(events("login.succeeded").first)
                #expect(succeeded["session_id"] as? String == sid && succeeded["request_id"] as? String == requestIDs[0])
                #expect(events("token.refreshed").first?["session_id"] as? String == sid)
                #expect(events("session.logged_out").first?["session_id"] as? String == sid)
                #expect(!events("login.rate_limited").isEmpty)
                // The gateway's log holds what it did; the operator's commands are in the CLI's log.
                #expect(audit.allSatisfy { ($0["time"] as? String)?.hasSuffix("Z") == true && $0["level"] as? String == "notice" })
                for line in lines { for secret in secrets { #expect(!line.contains(secret), "a secret in: \(line.prefix(120))") } }
            }, { await gateway.stop() })
            let revoke = try await cli.run(["sessions", "revoke", "--user", "alice"])
            #expect(revoke.status == 1)  // nothing left to revoke
            let removed = try await cli.run(["users", "remove", "alice"])
            #expect(removed.stderr.contains(#""event":"user.removed""#))
            let rotated = try await cli.run(["keys", "rotate"])
            #expect(rotated.stderr.contains(#""event":"keys.rotated""#) && rotated.stderr.contains(#""by":"operator""#))
            let tokenRevoked = try await cli.run(["tokens", "revoke", "0123456789abcdef0123456789abcdef"])
            #expect(tokenRevoked.stderr.contains(#""event":"token.revoked""#))
        }, { TestEnvironment.remove(directory) })
    }

    @Test func textLinesEscapeWhatCouldForgeALine() {
        let line = GatewayLogHandler.text(
            time: Date(timeIntervalSince1970: 0), level: .notice, label: "authgate.audit", message: "login.failed",
            metadata: ["user": "alice\n1970-01-01T00:00:00.000Z notice authgate.audit: login.succeeded user=admin", "event": "login.failed"])
        #expect(line.filter { $0 == "\n" }.count == 1 && line.hasSuffix("\n"))
        #expect(line.contains(#"user="alice\n1970"#))
        let json = GatewayLogHandler.json(time: Date(timeIntervalSince1970: 0), level: .info, label: "x", message: "m\n", metadata: ["k": .array(["a", .dictionary(["b": "c"])])])
        #expect(json == #"{"time":"1970-01-01T00:00:00.000Z","level":"info","logger":"x","message":"m\n","k":["a",{"b":"c"}]}"# + "\n")
    }
}
