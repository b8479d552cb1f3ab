// LocalProvider: users kept in the store, with argon2id password hashes.
public import Foundation

public final class LocalProvider: IdentityProvider {
    public let name = "local"
    let store: any SessionStore
    let hasher: PasswordHasher
    /// Verified against when the login is unknown, so both answers take the same time.
    private let decoyHash: Secret<String>

    public init(store: any SessionStore, hasher: PasswordHasher) async throws {
        self.store = store
        self.hasher = hasher
        decoyHash = Secret(try await hasher.hash(Secret(Identifier.random())))
    }

    public func authenticate(login: String, password: Secret<String>) async throws -> ProviderLogin {
        let user = try await store.user(login: login)
        let ok = try await hasher.verify(password, hash: user?.passwordHash ?? decoyHash)
        guard ok, let user else { throw ProviderError.invalidCredentials }
        return ProviderLogin(user: user.profile, upstream: nil, connection: nil)
    }

    public func renewIfNeeded(session: SessionRecord, now: Date) async throws -> UpstreamTokens? { nil }

    public func check() async throws {}

    public func shutdown() async { await hasher.shutdown() }
}
