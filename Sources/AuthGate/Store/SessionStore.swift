// SessionStore: what the gateway needs from its store; MongoDB and SQLite both provide it and
// pass the same test suite.
public import Foundation

public enum StoreError: Error, Equatable, CustomStringConvertible {
    /// The store cannot be reached or timed out: answer 503, never a credential error.
    case unavailable(String)
    /// A unique key already exists (a user login, a session id).
    case duplicate
    /// Anything else the store reported; the text is for logs only.
    case failed(String)

    public var description: String {
        switch self {
        case .unavailable(let detail): "store unavailable: \(detail)"
        case .duplicate: "duplicate key"
        case .failed(let detail): "store error: \(detail)"
        }
    }
}

/// Where a revocation poll left off, in the store's own order: MongoDB's clock at the write
/// (`$currentDate`), or SQLite's revocation log sequence.
public enum RevocationCursor: Sendable, Equatable {
    case storeTime(Date)
    case sequence(Int64)
}

/// A key (`user:LOGIN` or `ip:ADDRESS`) banned from signing in until a time.
public struct LoginBan: Sendable, Equatable, Encodable {
    public var key: String
    public var until: Date

    public init(key: String, until: Date) {
        self.key = key
        self.until = until
    }
}

/// One key's sign-in attempts in its window, counted with the one just made, and the end of the
/// key's ban if one is in force.
public struct LoginAttemptCount: Sendable, Equatable {
    public var count: Int
    public var bannedUntil: Date?

    public init(count: Int, bannedUntil: Date?) {
        self.count = count
        self.bannedUntil = bannedUntil
    }
}

/// Which sessions an operation applies to.
public enum SessionFilter: Sendable, Equatable {
    case all
    case userID(String)
    case login(String)
}

public protocol SessionStore: Sendable {
    /// Creates collections/tables and indexes; idempotent.
    func migrate() async throws
    func ping() async throws

    func insertSession(_ session: SessionRecord) async throws
    /// nil when absent or expired (revoked sessions are returned, with `revokedAt`).
    func session(id: String, now: Date) async throws -> SessionRecord?
    /// The session holding a refresh token with this hash, live or retired.
    func session(refreshHash: String, now: Date) async throws -> SessionRecord?
    /// Replaces the record if its stored version is still `expectedVersion`; returns false if
    /// another writer got there first. Stores `session.version` as given.
    func updateSession(_ session: SessionRecord, expectedVersion: Int64) async throws -> Bool
    /// Replaces the sealed upstream tokens of a live session and bumps its version (so a
    /// concurrent refresh reads again instead of writing the old tokens back). With `replacing`,
    /// only if the stored box is still that one (a reseal must not undo a renewal); returns
    /// whether it wrote.
    @discardableResult
    func updateUpstream(sessionID: String, upstream: SealedBox, replacing: SealedBox?) async throws -> Bool
    /// Sets last_seen_at of a live session (informational: it moves no lifetime and no version).
    func touchSession(id: String, lastSeenAt: Date) async throws
    /// Marks sessions revoked; returns the ids newly revoked.
    func revokeSessions(_ filter: SessionFilter, at: Date) async throws -> [String]
    func revokeSession(id: String, at: Date) async throws -> Bool
    /// Unexpired, unrevoked sessions, newest first.
    func sessions(_ filter: SessionFilter, now: Date) async throws -> [SessionRecord]

    func revokeToken(_ token: RevokedToken) async throws
    /// Unexpired sessions and tokens revoked after `cursor` in the store's own order (every one
    /// when nil), and the cursor to ask from next time. The order is the store's, never a
    /// writer's clock, so a revocation from a slow or lagging writer is not skipped.
    /// A full load (nil cursor) skips sessions revoked before `revokedSince`: their access tokens
    /// have all expired.
    func revocations(after cursor: RevocationCursor?, revokedSince: Date, now: Date) async throws -> (batch: RevocationBatch, next: RevocationCursor?)

    func insertUser(_ user: UserRecord) async throws
    func user(login: String) async throws -> UserRecord?
    func deleteUser(login: String) async throws -> Bool
    /// Replaces a user's password hash; false when there is no such user.
    func updatePassword(login: String, passwordHash: String) async throws -> Bool
    func users() async throws -> [UserRecord]

    // Login regulation: atomic primitives only; the policy is LoginRegulator's.

    /// Counts one sign-in attempt for each key, atomically per key (shared by every instance),
    /// in one store call: a login is two keys, and each call is a round trip. A counter whose
    /// window has passed starts again at 1 with a new window. Returns, in the order of `keys`,
    /// each count and the ban in force, so no separate ban check is needed.
    func countLoginAttempts(keys: [String], window: TimeInterval, now: Date) async throws -> [LoginAttemptCount]
    /// Takes attempts back in one store call: one from each key of `undo` (not the caller's
    /// fault: an outage, a refusal, or a success), and all of each key of `reset` unless banned.
    func takeBackLoginAttempts(undo: [String], reset: [String]) async throws
    /// Bans the key until `until` (the counter then lasts as long as the ban).
    func banLogin(key: String, until: Date) async throws
    /// Every ban in force.
    func loginBans(now: Date) async throws -> [LoginBan]
    /// Lifts one key's ban (or every ban, for nil); returns how many were lifted.
    func clearLoginBans(key: String?, now: Date) async throws -> Int

    func close() async
}
