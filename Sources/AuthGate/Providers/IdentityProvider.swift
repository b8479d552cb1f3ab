// IdentityProvider: where credentials are checked: the store's own users, or ShotGrid.
public import Foundation

public enum ProviderError: Error, Equatable, CustomStringConvertible {
    /// Wrong login or password, unknown or inactive user: one answer for all (401 invalid_grant).
    case invalidCredentials
    /// The provider could not be reached or answered with a server error (503).
    case unavailable(String)

    public var description: String {
        switch self {
        case .invalidCredentials: "invalid credentials"
        case .unavailable(let detail): "identity provider unavailable: \(detail)"
        }
    }
}

/// A successful sign-in: who, and (for upstream providers) the tokens and the live connection.
public struct ProviderLogin: Sendable {
    public var user: UserProfile
    public var upstream: UpstreamTokens?
    public var connection: UpstreamConnection?
}

public protocol IdentityProvider: Sendable {
    var name: String { get }
    /// Checks the credentials once; the password is not kept.
    func authenticate(login: String, password: Secret<String>) async throws -> ProviderLogin
    /// Upstream tokens renewed through the session's pooled connection when they are due;
    /// nil when nothing changed. Throws invalidCredentials when the provider refuses the renewal.
    func renewIfNeeded(session: SessionRecord, now: Date) async throws -> UpstreamTokens?
    /// Probes the provider for /readyz.
    func check() async throws
    func shutdown() async
}
