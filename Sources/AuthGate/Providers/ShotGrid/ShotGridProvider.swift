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
    let timeout: TimeInterval

    public init(baseURL: String, timeout: TimeInterval, pool: UpstreamPool, store: any SessionStore, sealer: Sealer, logger: Logger, threads: Int = 16, queueLimit: Int = 64) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        api = ShotGridAPI(baseURL: base)
        self.timeout = timeout
        workers = BlockingPool(threads: threads, queueLimit: queueLimit)
        sessions = ShotGridSessions(api: api, pool: pool, store: store, sealer: sealer, workers: workers, timeout: timeout, logger: logger)
    }

    public func authenticate(login: String, password: Secret<String>) async throws -> ProviderLogin {
        let connection = UpstreamConnection(timeout: timeout)
        let api = self.api
        do {
            let (tokens, identity) = try await workers.run { () throws -> (UpstreamTokens, ShotGridAPI.Identity) in
                let tokens = try api.passwordGrant(connection, username: login, password: password, now: Date())
                // Same handle: the lookup reuses the connection the grant opened.
                let identity = try api.lookupUser(connection, login: login, accessToken: tokens.accessToken)
                return (tokens, identity)
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
        let connection = try sessions.connection(for: session, now: now)
        guard let current = connection.tokens, current.needsRenewal(at: now) else { return nil }
        return try await sessions.tokens(connection, sessionID: session.id, now: now)
    }

    public func check() async throws {
        let connection = UpstreamConnection(timeout: min(timeout, 2))
        defer { connection.close() }
        let api = self.api
        let status = try await workers.run { () throws -> Int in
            try connection.perform(method: "GET", url: api.baseURL + "/api/v1/", headers: ["Accept: application/json"]).status
        }
        if status >= 500 { throw ProviderError.unavailable("ShotGrid answered \(status)") }
    }

    public func shutdown() async {
        await workers.shutdown()
    }
}
