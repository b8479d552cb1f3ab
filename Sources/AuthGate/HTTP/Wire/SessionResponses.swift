// SessionResponses: the SESSION object of the contract and the answers built on it
// (/auth/me, /auth/sessions).
import Foundation

/// SESSION: `{"id","created_at","last_seen_at","expires_at"}`, timestamps in RFC 3339 UTC.
struct SessionSummary: Encodable {
    var id: String
    var created_at: Date
    var last_seen_at: Date
    var expires_at: Date

    init(_ session: SessionRecord) {
        id = session.id
        created_at = session.createdAt
        last_seen_at = session.lastSeenAt
        expires_at = session.expiresAt
    }

    init(id: String, _ entry: SessionCache.Entry) {
        self.id = id
        created_at = entry.createdAt
        last_seen_at = entry.lastSeenAt
        expires_at = entry.expiresAt
    }
}

/// `GET /auth/me`.
struct MeResponse: Encodable {
    var user: UserProfile
    var session: SessionSummary
}

/// `GET /auth/sessions`: the caller's sessions, SESSION plus where each was opened.
struct OwnSessionsResponse: Encodable {
    struct Item: Encodable {
        var id: String
        var created_at: Date
        var last_seen_at: Date
        var expires_at: Date
        var client_ip: String
        var user_agent: String
        var current: Bool
    }

    var sessions: [Item]

    init(_ records: [SessionRecord], current: String) {
        sessions = records.map {
            Item(
                id: $0.id, created_at: $0.createdAt, last_seen_at: $0.lastSeenAt, expires_at: $0.expiresAt,
                client_ip: $0.clientIP, user_agent: $0.userAgent, current: $0.id == current)
        }
    }
}
