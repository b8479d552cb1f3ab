// bench-sessions: writes N local sessions straight into a store, as a login would but without
// argon2id, and prints one line per session: session id, access token, refresh token (tab-separated).
//   bench-sessions --store URI --keys PATH --count N [--prefix P] [--access-ttl S] > sessions.tsv
// The access tokens are signed with the key ring's active key for issuer and audience "authgate"
// (what scripts/bench runs the gateway with), so the gateway accepts them like its own.
import AuthGate
import Foundation

struct Options {
    var store = ""
    var keys = ""
    var count = 0
    var prefix = "bench"
    var accessTTL: TimeInterval = 3600
    var issuer = "authgate"
    var audience = "authgate"

    init(_ arguments: [String]) {
        var index = 1
        func value() -> String {
            index += 1
            guard index < arguments.count else { fail("\(arguments[index - 1]) needs a value") }
            return arguments[index]
        }
        while index < arguments.count {
            switch arguments[index] {
            case "--store": store = value()
            case "--keys": keys = value()
            case "--count": count = Int(value()) ?? -1
            case "--prefix": prefix = value()
            case "--access-ttl": accessTTL = TimeInterval(value()) ?? -1
            case "--issuer": issuer = value()
            case "--audience": audience = value()
            default: fail("unknown argument \(arguments[index])")
            }
            index += 1
        }
        guard !store.isEmpty, !keys.isEmpty, count > 0, accessTTL > 0 else {
            fail("usage: bench-sessions --store URI --keys PATH --count N [--prefix P] [--access-ttl S]")
        }
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("bench-sessions: \(message)\n".utf8))
    exit(2)
}

@main
enum BenchSessions {
    static func main() async {
        let options = Options(CommandLine.arguments)
        var config = GatewayConfig()
        config.store = options.store
        let store: any SessionStore
        let jwt: JWTCodec
        do {
            store = try GatewayComponents.openStore(config)
            try await store.migrate()
            jwt = JWTCodec(keys: try KeyRingFile.load(path: options.keys), issuer: options.issuer, audience: options.audience)
        } catch {
            fail("\(error)")
        }

        /// One session as LoginFlow writes it (a user of its own, so the cache holds N distinct profiles).
        func makeSession(_ number: Int, now: Date) throws -> (SessionRecord, String) {
            let login = "\(options.prefix)-\(number)"
            let user = UserProfile(id: Identifier.random(), login: login, email: "\(login)@bench.example", name: "Bench User \(number)", upstreamID: .string(login))
            let refresh = RefreshToken.generate()
            let session = SessionRecord(
                id: Identifier.random(), user: user, provider: "local", upstream: nil,
                refreshTokens: [RefreshTokenEntry(hash: RefreshToken.hash(refresh.value), issuedAt: now)],
                createdAt: now, lastSeenAt: now, idleExpiresAt: now.addingTimeInterval(config.sessionIdleTTL),
                expiresAt: now.addingTimeInterval(config.sessionMaxTTL), clientIP: "127.0.0.1", userAgent: "bench-sessions")
            let issuedAt = Int64(now.timeIntervalSince1970)
            let claims = AccessClaims(
                iss: options.issuer, aud: options.audience, sub: user.id, sid: session.id, jti: Identifier.random(), iat: issuedAt,
                nbf: issuedAt, exp: issuedAt + Int64(options.accessTTL), login: login, email: user.email, name: user.name)
            return (session, "\(session.id)\t\(try jwt.sign(claims))\t\(refresh.value)\n")
        }

        // Inserts run a batch at a time, concurrently: the store's own pool sets the real parallelism.
        let batchSize = 64
        var output = Data()
        let now = Date()
        do {
            for start in stride(from: 0, to: options.count, by: batchSize) {
                var batch: [SessionRecord] = []
                for number in start..<min(start + batchSize, options.count) {
                    let (session, line) = try makeSession(number, now: now)
                    batch.append(session)
                    output.append(Data(line.utf8))
                }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for session in batch { group.addTask { try await store.insertSession(session) } }
                    try await group.waitForAll()
                }
                if output.count > 1 << 20 {
                    FileHandle.standardOutput.write(output)
                    output.removeAll(keepingCapacity: true)
                }
            }
        } catch {
            fail("\(error)")
        }
        FileHandle.standardOutput.write(output)
        await store.close()
    }
}
