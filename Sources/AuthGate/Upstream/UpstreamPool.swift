// UpstreamPool: the LRU of upstream connections keyed by session id, bounded by size and idle
// time; entries leave on eviction, logout and revocation, and their connections are closed then.
public import Foundation
import Metrics
import NIOConcurrencyHelpers

public final class UpstreamPool: Sendable {
    public struct Stats: Sendable, Equatable {
        public var hits = 0
        public var misses = 0
        public var evictions = 0
        public var size = 0
    }

    /// Why an entry left, as the `reason` label of authgate_upstream_pool_evictions_total.
    public enum EvictionReason: String, Sendable, CaseIterable {
        /// Pushed out by a newer session when the pool was full.
        case lru
        /// Unused for `pool-idle`.
        case idle
        /// This instance's logout (or the user ending their own session here).
        case logout
        /// Revoked anywhere else: another instance, the operator, reuse detection, the provider.
        case revoked
    }

    /// `@unchecked Sendable`: the LRU's nodes are classes, but State is only touched under the lock.
    private struct State: @unchecked Sendable {
        var cache: LRUCache<String, UpstreamConnection>
        var stats = Stats()
    }

    private let state: NIOLockedValueBox<State>
    public let idleTimeout: TimeInterval
    private let hitCounter = Counter(label: "authgate_upstream_pool_hits_total")
    private let missCounter = Counter(label: "authgate_upstream_pool_misses_total")
    private let evictionCounters = Dictionary(
        uniqueKeysWithValues: EvictionReason.allCases.map {
            ($0, Counter(label: "authgate_upstream_pool_evictions_total", dimensions: [("reason", $0.rawValue)]))
        })
    private let entriesGauge = Gauge(label: "authgate_upstream_pool_entries")

    public init(capacity: Int, idleTimeout: TimeInterval) {
        state = NIOLockedValueBox(State(cache: LRUCache(capacity: capacity)))
        self.idleTimeout = idleTimeout
    }

    public var stats: Stats { state.withLockedValue { $0.stats } }

    /// The session's connection if pooled and not idle past the limit.
    func connection(for sessionID: String, now: Date = Date()) -> UpstreamConnection? {
        let (found, stale) = state.withLockedValue { state -> (UpstreamConnection?, [UpstreamConnection]) in
            let stale = state.cache.removeIdle(before: now.timeIntervalSince1970 - idleTimeout).map(\.1)
            state.stats.evictions += stale.count
            let found = state.cache.get(sessionID, now: now.timeIntervalSince1970)
            if found != nil { state.stats.hits += 1 } else { state.stats.misses += 1 }
            state.stats.size = state.cache.count
            return (found, stale)
        }
        if found != nil { hitCounter.increment() } else { missCounter.increment() }
        retire(stale, .idle)
        return found
    }

    func insert(_ connection: UpstreamConnection, for sessionID: String, now: Date = Date()) {
        let (replaced, evicted) = state.withLockedValue { state -> ([UpstreamConnection], [UpstreamConnection]) in
            let out = state.cache.set(sessionID, connection, now: now.timeIntervalSince1970).filter { $0.1 !== connection }
            // Replacing the session's own entry is not an eviction; anything else left for room.
            let replaced = out.filter { $0.0 == sessionID }.map(\.1)
            let evicted = out.filter { $0.0 != sessionID }.map(\.1)
            state.stats.evictions += evicted.count
            state.stats.size = state.cache.count
            return (replaced, evicted)
        }
        for connection in replaced { connection.close() }
        retire(evicted, .lru)
    }

    /// Logout or revocation: the connection and its in-memory token go now.
    public func evict(_ sessionID: String, reason: EvictionReason) {
        let removed = state.withLockedValue { state -> UpstreamConnection? in
            let removed = state.cache.remove(sessionID)
            if removed != nil { state.stats.evictions += 1 }
            state.stats.size = state.cache.count
            return removed
        }
        retire(removed.map { [$0] } ?? [], reason)
    }

    /// Drops connections idle past the limit (called periodically).
    public func sweep(now: Date = Date()) {
        let stale = state.withLockedValue { state -> [UpstreamConnection] in
            let stale = state.cache.removeIdle(before: now.timeIntervalSince1970 - idleTimeout).map(\.1)
            state.stats.evictions += stale.count
            state.stats.size = state.cache.count
            return stale
        }
        retire(stale, .idle)
    }

    public func closeAll() {
        let all = state.withLockedValue { state -> [UpstreamConnection] in
            let all = state.cache.removeAll().map(\.1)
            state.stats.size = 0
            return all
        }
        for connection in all { connection.close() }
        entriesGauge.record(0)
    }

    private func retire(_ connections: [UpstreamConnection], _ reason: EvictionReason) {
        if !connections.isEmpty { evictionCounters[reason]?.increment(by: connections.count) }
        entriesGauge.record(stats.size)
        for connection in connections { connection.close() }
    }
}
