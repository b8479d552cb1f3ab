// ShotGridProvider: signs users in against Autodesk ShotGrid. The password is used once, for the
// password grant; afterwards only ShotGrid's tokens are kept (sealed at rest, in the pool in memory).
public import Foundation
public import Logging

public final class ShotGridProvider: IdentityProvider {
    public let name = "shotgrid"
    let api: ShotGridAPI
    let sessions: ShotGridSessions
    /// libcurl's blocking work, bounded: past its threads and queue, callers get 503 at once.
    let workers: BlockingPool
    /// After repeated outages ShotGrid is presumed down for a while: 503 at once, no timeouts.
    public let breaker: CircuitBreaker
    let timeout: TimeInterval

    public init(
        baseURL: String, timeout: TimeInterval, pool: UpstreamPool, store: any SessionStore, sealer: Sealer, logger: Logger,
        keyReloader: KeyRingReloader? = nil, circuitCooldown: TimeInterval = 10, threads: Int = 16, queueLimit: Int = 64
    ) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        api = ShotGridAPI(baseURL: base)
        self.timeout = timeout
        workers = BlockingPool(threads: threads, queueLimit: queueLimit)
        breaker = CircuitBreaker(name: "shotgrid", cooldown: circuitCooldown)
        sessions = ShotGridSessions(
            api: api, pool: pool, store: store, sealer: sealer, workers: workers, breaker: breaker, keyReloader: keyReloader,
            timeout: timeout, logger: logger)
    }

    public func authenticate(login: String, password: Secret<String>) async throws -> ProviderLogin {
        let connection = UpstreamConnection(timeout: timeout)
        let api = self.api
        do {
            let (tokens, identity) = try await guarded {
                try await workers.run { () throws -> (UpstreamTokens, ShotGridAPI.Identity) in
                    let tokens = try api.passwordGrant(connection, username: login, password: password, now: Date())
                    // Same handle: the lookup reuses the connection the grant opened.
                    let identity = try api.lookupUser(connection, login: login, accessToken: tokens.accessToken)
                    return (tokens, identity)
                }
            }
            // An inactive user gets the same answer as a wrong password.
            guard identity.active else { throw ProviderError.invalidCredentials }
            connection.setTokens(tokens)
            let user = UserProfile(
                id: String(identity.id), login: identity.login, email: identity.email, name: identity.name,
                upstreamID: .number(identity.id))
            return ProviderLogin(user: user, upstream: tokens, connection: connection)
        } catch BlockingPoolError.saturated {
            connection.close()
            throw SessionError.overloaded
        } catch {
            connection.close()
            throw error
        }
    }

    /// Renews through the session's pooled connection when due; the renewed tokens are already
    /// sealed into the store (the session's version moved on) when this returns them.
    public func renewIfNeeded(session: SessionRecord, now: Date) async throws -> UpstreamTokens? {
        let connection = try await sessions.connection(for: session, now: now)
        guard let current = connection.tokens, current.needsRenewal(at: now) else { return nil }
        return try await sessions.tokens(connection, sessionID: session.id, now: now)
    }

    public func check() async throws {
        // While the circuit is open ShotGrid is known to be down: no probe needed (or wanted).
        guard !breaker.isOpen() else { throw ProviderError.unavailable("circuit open") }
        let connection = UpstreamConnection(timeout: min(timeout, 2))
        defer { connection.close() }
        let api = self.api
        let status = try await workers.run { () throws -> Int in
            try connection.perform(method: "GET", url: api.baseURL + "/api/v1/", headers: ["Accept: application/json"]).status
        }
        if status >= 500 { throw ProviderError.unavailable("ShotGrid answered \(status)") }
    }

    /// A ShotGrid call through the circuit breaker: refused at once while it is open.
    func guarded<T>(_ call: () async throws -> T) async throws -> T {
        try await breaker.run(refused: ProviderError.unavailable("ShotGrid presumed down (circuit open)"), isFailure: Self.isOutage, call)
    }

    /// An outage, as opposed to an answer: refused credentials and a full queue are not.
    static func isOutage(_ error: any Error) -> Bool {
        switch error {
        case ProviderError.unavailable, is CurlError: true
        default: false
        }
    }

    public func shutdown() async {
        await workers.shutdown()
    }
}
