// OperatorListings: the rows of `authgate sessions list --json` and `authgate users list --json`,
// rendered by the same wire encoder (and the same USER object) as the HTTP answers.
public import Foundation

/// `{"id", "user": USER, "created_at", "last_seen_at", "expires_at", "client_ip", "user_agent"}`.
public struct SessionListing: Encodable, Sendable {
    public var id: String
    public var user: UserProfile
    public var created_at: Date
    public var last_seen_at: Date
    public var expires_at: Date
    public var client_ip: String
    public var user_agent: String

    public init(_ session: SessionRecord) {
        id = session.id
        user = session.user
        created_at = session.createdAt
        last_seen_at = session.lastSeenAt
        expires_at = session.expiresAt
        client_ip = session.clientIP
        user_agent = session.userAgent
    }
}

/// A local user without its password hash.
public struct UserListing: Encodable, Sendable {
    public var id: String
    public var login: String
    public var email: String
    public var name: String
    public var created_at: Date

    public init(_ user: UserRecord) {
        id = user.id
        login = user.login
        email = user.email
        name = user.name
        created_at = user.createdAt
    }
}

/// A row of `authgate keys list --json`: what a key is for and when; never its material.
public struct KeyListing: Encodable, Sendable {
    public var id: String
    public var use: String
    public var created: Date?
    public var retired: Date?
    public var active: Bool

    public static func of(_ ring: KeyRing) -> [KeyListing] {
        ring.signingKeys.map { KeyListing(id: $0.id, use: "signing", created: $0.createdAt, retired: $0.retiredAt, active: $0.id == ring.activeSigningKeyID) }
            + ring.sealingKeys.map { KeyListing(id: $0.id, use: "sealing", created: $0.createdAt, retired: $0.retiredAt, active: $0.id == ring.activeSealingKeyID) }
    }
}
