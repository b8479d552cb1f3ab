// SessionRecord: one signed-in session as both stores hold it.
public import Foundation

public struct SessionRecord: Sendable, Equatable {
    public var id: String
    public var user: UserProfile
    public var provider: String
    /// The provider's tokens, sealed with the session id as associated data; nil for `local`.
    public var upstream: SealedBox?
    public var refreshTokens: [RefreshTokenEntry]
    public var createdAt: Date
    public var lastSeenAt: Date
    public var idleExpiresAt: Date
    public var expiresAt: Date
    public var revokedAt: Date?
    public var clientIP: String
    public var userAgent: String
    /// Bumped by every update; updates are compare-and-set on it, so concurrent refreshes
    /// of one session cannot both win.
    public var version: Int64

    public init(
        id: String, user: UserProfile, provider: String, upstream: SealedBox?, refreshTokens: [RefreshTokenEntry],
        createdAt: Date, lastSeenAt: Date, idleExpiresAt: Date, expiresAt: Date, revokedAt: Date? = nil,
        clientIP: String, userAgent: String, version: Int64 = 1
    ) {
        self.id = id
        self.user = user
        self.provider = provider
        self.upstream = upstream
        self.refreshTokens = refreshTokens
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt
        self.idleExpiresAt = idleExpiresAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.clientIP = clientIP
        self.userAgent = userAgent
        self.version = version
    }

    /// Live: not revoked, and inside both its idle and absolute lifetimes.
    public func isLive(at now: Date) -> Bool {
        revokedAt == nil && now < expiresAt && now < idleExpiresAt
    }

    /// Expired records are never returned by a store read, even before TTL deletion runs.
    public func isExpired(at now: Date) -> Bool {
        now >= expiresAt || now >= idleExpiresAt
    }
}

/// One refresh token of a session, by hash. A token is retired when it is exchanged; a retired
/// token is honoured for a short grace (concurrent tabs) and is proof of theft after it.
public struct RefreshTokenEntry: Sendable, Equatable, Codable {
    public var hash: String
    public var issuedAt: Date
    public var retiredAt: Date?
    /// A retired token presented again within the grace got its one sibling: a third showing is
    /// a copy in use, not a second tab.
    public var siblingIssued: Bool

    public init(hash: String, issuedAt: Date, retiredAt: Date? = nil, siblingIssued: Bool = false) {
        self.hash = hash
        self.issuedAt = issuedAt
        self.retiredAt = retiredAt
        self.siblingIssued = siblingIssued
    }

    enum CodingKeys: String, CodingKey {
        case hash
        case issuedAt = "issued_at"
        case retiredAt = "retired_at"
        case siblingIssued = "sibling_issued"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        hash = try container.decode(String.self, forKey: .hash)
        issuedAt = try container.decode(Date.self, forKey: .issuedAt)
        retiredAt = try container.decodeIfPresent(Date.self, forKey: .retiredAt)
        // Absent in records written before the bound existed.
        siblingIssued = try container.decodeIfPresent(Bool.self, forKey: .siblingIssued) ?? false
    }
}

public struct RevokedToken: Sendable, Equatable {
    public var jti: String
    public var sessionID: String
    public var revokedAt: Date
    public var expiresAt: Date

    public init(jti: String, sessionID: String, revokedAt: Date, expiresAt: Date) {
        self.jti = jti
        self.sessionID = sessionID
        self.revokedAt = revokedAt
        self.expiresAt = expiresAt
    }
}

/// What changed in the revocation state since a point in time.
public struct RevocationBatch: Sendable {
    public var sessions: [(id: String, expiresAt: Date)]
    public var tokens: [(jti: String, expiresAt: Date)]

    public init(sessions: [(id: String, expiresAt: Date)] = [], tokens: [(jti: String, expiresAt: Date)] = []) {
        self.sessions = sessions
        self.tokens = tokens
    }
}

public struct UserRecord: Sendable, Equatable {
    public var id: String
    public var login: String
    public var email: String
    public var name: String
    /// libsodium `crypto_pwhash_str` output (argon2id, with its own salt and parameters).
    public var passwordHash: Secret<String>
    public var createdAt: Date

    public init(id: String, login: String, email: String, name: String, passwordHash: String, createdAt: Date) {
        self.id = id
        self.login = login
        self.email = email
        self.name = name
        self.passwordHash = Secret(passwordHash)
        self.createdAt = createdAt
    }

    public var profile: UserProfile {
        UserProfile(id: id, login: login, email: email, name: name, upstreamID: .string(id))
    }
}
