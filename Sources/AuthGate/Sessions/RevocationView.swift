// RevocationView: this instance's in-memory copy of the revoked sessions and tokens, so that
// /auth/verify needs no store round trip. RevocationSync keeps it within a poll of the store.
// A revoked session is kept only as long as an access token issued before its revocation can
// live (`horizon`: the access TTL plus the skew), not until the session would have expired:
// no token is issued for it afterwards, so the view holds minutes of revocations, not a day's.
public import Foundation
import NIOConcurrencyHelpers

public final class RevocationView: Sendable {
    struct State {
        var sessions: [String: Date] = [:]
        var tokens: [String: Date] = [:]
        var lastSync: Date?
        var cursor: RevocationCursor?
    }

    private let state = NIOLockedValueBox(State())
    /// How long after a revocation its session's access tokens can still be presented.
    public let horizon: TimeInterval

    public init(horizon: TimeInterval = .infinity) { self.horizon = horizon }

    public func isRevoked(sessionID: String, jti: String) -> Bool {
        state.withLockedValue { $0.sessions[sessionID] != nil || $0.tokens[jti] != nil }
    }

    func addSession(_ id: String, expiresAt: Date, now: Date = Date()) {
        let until = min(expiresAt, now.addingTimeInterval(horizon))
        state.withLockedValue { $0.sessions[id] = min($0.sessions[id] ?? until, until) }
    }
    func addToken(_ jti: String, expiresAt: Date) { state.withLockedValue { $0.tokens[jti] = expiresAt } }

    /// Merges what the store reported and prunes what has expired (its tokens cannot verify anyway).
    /// Returns the sessions this view had not seen revoked before.
    @discardableResult
    func apply(_ batch: RevocationBatch, syncedAt: Date) -> [String] {
        state.withLockedValue { state in
            var newlyRevoked: [String] = []
            let latest = syncedAt.addingTimeInterval(horizon)
            for entry in batch.sessions {
                // Seen before: its deadline stands (a reload must not keep it forever).
                guard state.sessions[entry.id] == nil else { continue }
                state.sessions[entry.id] = min(entry.expiresAt, latest)
                newlyRevoked.append(entry.id)
            }
            for entry in batch.tokens { state.tokens[entry.jti] = entry.expiresAt }
            // Keep entries a little past expiry: an access token may outlive its session by the skew.
            let horizon = syncedAt.addingTimeInterval(-JWTCodec.clockSkew - 60)
            state.sessions = state.sessions.filter { $0.value > horizon }
            state.tokens = state.tokens.filter { $0.value > horizon }
            state.lastSync = syncedAt
            return newlyRevoked
        }
    }

    /// Whether the view may still be trusted: synced within the fail-static window.
    public func isFresh(now: Date, failStatic: TimeInterval) -> Bool {
        state.withLockedValue { $0.lastSync.map { now.timeIntervalSince($0) <= failStatic } ?? false }
    }

    public var lastSync: Date? { state.withLockedValue { $0.lastSync } }

    /// Where the last poll left off in the store's order.
    public var cursor: RevocationCursor? { state.withLockedValue { $0.cursor } }

    func setCursor(_ cursor: RevocationCursor?) { state.withLockedValue { $0.cursor = cursor } }
    public var counts: (sessions: Int, tokens: Int) { state.withLockedValue { ($0.sessions.count, $0.tokens.count) } }
}
