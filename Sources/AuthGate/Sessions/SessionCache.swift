// SessionCache: the sessions /auth/me reads, kept in memory so that a request needs no store
// round trip. Bounded by size (LRU) and idle time; filled on login, refresh and a miss; an entry
// is dropped when the session is revoked (here at once, elsewhere on the next revocation poll,
// within a second) and re-read once it is `maximumAge` old, so what /auth/me shows of a refresh
// made on another instance is at most that old.
public import Foundation
import NIOConcurrencyHelpers

public final class SessionCache: Sendable {
    /// What /auth/me and the sessions list need of a session; no tokens, sealed or not.
    public struct Entry: Sendable, Equatable {
        public var user: UserProfile
        public var provider: String
        public var createdAt: Date
        public var lastSeenAt: Date
        public var idleExpiresAt: Date
        public var expiresAt: Date
        /// When this copy was read or written.
        var cachedAt: Date

        init(_ session: SessionRecord, cachedAt: Date) {
            user = session.user
            provider = session.provider
            createdAt = session.createdAt
            lastSeenAt = session.lastSeenAt
            idleExpiresAt = session.idleExpiresAt
            expiresAt = session.expiresAt
            self.cachedAt = cachedAt
        }

        public func isLive(at now: Date) -> Bool { now < expiresAt && now < idleExpiresAt }
    }

    /// `@unchecked Sendable`: the LRU's nodes are classes, but it is only touched under the lock.
    private struct State: @unchecked Sendable {
        var entries: LRUCache<String, Entry>
    }

    private let state: NIOLockedValueBox<State>
    let idleTimeout: TimeInterval
    let maximumAge: TimeInterval

    public init(capacity: Int, idleTimeout: TimeInterval, maximumAge: TimeInterval = 30) {
        state = NIOLockedValueBox(State(entries: LRUCache(capacity: capacity)))
        self.idleTimeout = idleTimeout
        self.maximumAge = maximumAge
    }

    /// A fresh enough copy of a live, unrevoked session, or nil (read the store).
    func get(_ id: String, now: Date) -> Entry? {
        state.withLockedValue { state in
            let seconds = now.timeIntervalSince1970
            _ = state.entries.removeIdle(before: seconds - idleTimeout)
            guard let entry = state.entries.get(id, now: seconds) else { return nil }
            guard now.timeIntervalSince(entry.cachedAt) < maximumAge, entry.isLive(at: now) else {
                _ = state.entries.remove(id)
                return nil
            }
            return entry
        }
    }

    func put(_ session: SessionRecord, now: Date) {
        guard session.revokedAt == nil else { return remove(session.id) }
        state.withLockedValue { _ = $0.entries.set(session.id, Entry(session, cachedAt: now), now: now.timeIntervalSince1970) }
    }

    /// Revoked (here or anywhere) or rewritten: the next read goes to the store.
    func remove(_ id: String) {
        state.withLockedValue { _ = $0.entries.remove(id) }
    }

    /// Records a write-back of last_seen_at, so the copy matches the store.
    func touch(_ id: String, lastSeenAt: Date) {
        state.withLockedValue { state in
            guard var entry = state.entries.peek(id) else { return }
            entry.lastSeenAt = lastSeenAt
            state.entries.replace(id, entry)
        }
    }

    public var count: Int { state.withLockedValue { $0.entries.count } }
}
