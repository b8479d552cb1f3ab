// ShotGridProvider: signs users in against Autodesk ShotGrid. The password is used once, for the
// password grant; afterwards only ShotGrid's tokens are kept (sealed at rest, in the pool in memory).
public import Foundation

public final class ShotGridProvider: IdentityProvider {
    public let name = "shotgrid"
    let api: ShotGridAPI
    let pool: UpstreamPool
    let sealer: Sealer
    let curlThreads: BlockingPool
    let timeout: TimeInterval

    public init(baseURL: String, timeout: TimeInterval, pool: UpstreamPool, sealer: Sealer, threads: Int = 4) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        api = ShotGridAPI(baseURL: base)
        self.pool = pool
        self.sealer = sealer
        self.timeout = timeout
        curlThreads = BlockingPool(threads: threads)
    }

    public func authenticate(login: String, password: Secret<String>) async throws -> ProviderLogin {
        let connection = UpstreamConnection(timeout: timeout)
        let api = self.api
        do {
            let (tokens, identity) = try await curlThreads.run { () throws -> (UpstreamTokens, ShotGridAPI.Identity) in
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
        } catch {
            connection.close()
            throw error
        }
    }

    public func renewIfNeeded(session: SessionRecord, now: Date) async throws -> UpstreamTokens? {
        let connection: UpstreamConnection
        if let pooled = pool.connection(for: session.id, now: now), pooled.tokens != nil {
            connection = pooled
        } else {
            // Miss (evicted, or another instance signed the user in): unseal from the store.
            guard let sealed = session.upstream else { throw ProviderError.invalidCredentials }
            let tokens: UpstreamTokens
            do { tokens = try UpstreamTokens.unseal(sealed, with: sealer, sessionID: session.id) } catch {
                throw ProviderError.invalidCredentials
            }
            connection = UpstreamConnection(timeout: timeout, tokens: tokens)
            pool.insert(connection, for: session.id, now: now)
        }
        guard let tokens = connection.tokens, tokens.needsRenewal(at: now) else { return nil }
        guard let refreshToken = tokens.refreshToken else { throw ProviderError.invalidCredentials }
        let api = self.api
        let renewed = try await curlThreads.run { () throws -> UpstreamTokens in
            var renewed = try api.refreshGrant(connection, refreshToken: refreshToken, now: now)
            // ShotGrid may or may not rotate the refresh token; keep the old one if it did not.
            if renewed.refreshToken == nil { renewed.refreshToken = refreshToken }
            return renewed
        }
        connection.setTokens(renewed)
        return renewed
    }

    public func check() async throws {
        let connection = UpstreamConnection(timeout: min(timeout, 2))
        defer { connection.close() }
        let api = self.api
        let status = try await curlThreads.run { () throws -> Int in
            try connection.perform(method: "GET", url: api.baseURL + "/api/v1/", headers: ["Accept: application/json"]).status
        }
        if status >= 500 { throw ProviderError.unavailable("ShotGrid answered \(status)") }
    }

    public func shutdown() async {
        await curlThreads.shutdown()
        pool.closeAll()
    }
}
