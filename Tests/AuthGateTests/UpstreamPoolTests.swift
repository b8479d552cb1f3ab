// UpstreamPoolTests: the LRU's order, size bound and idle bound, and the pool's counters.
@testable import AuthGate
import AuthGateTesting
import Foundation
import Testing

@Suite struct UpstreamPoolTests {
    @Test func lruEvictsLeastRecentlyUsed() {
        var cache = LRUCache<String, Int>(capacity: 2)
        _ = cache.set("a", 1, now: 1)
        _ = cache.set("b", 2, now: 2)
        #expect(cache.get("a", now: 3) == 1)
        let evicted = cache.set("c", 3, now: 4)
        #expect(evicted.map(\.0) == ["b"])
        #expect(cache.keysByAge == ["a", "c"])
        #expect(cache.removeIdle(before: 4).map(\.0) == ["a"])
        #expect(cache.remove("c") == 3 && cache.count == 0)
    }

    @Test func poolCountsHitsMissesAndEvictions() {
        let pool = UpstreamPool(capacity: 2, idleTimeout: 60)
        let t0 = Date()
        #expect(pool.connection(for: "s1", now: t0) == nil)
        pool.insert(UpstreamConnection(timeout: 1), for: "s1", now: t0)
        pool.insert(UpstreamConnection(timeout: 1), for: "s2", now: t0)
        #expect(pool.connection(for: "s1", now: t0) != nil)
        pool.insert(UpstreamConnection(timeout: 1), for: "s3", now: t0)  // evicts s2
        #expect(pool.connection(for: "s2", now: t0) == nil)
        pool.evict("s1", reason: .logout)
        #expect(pool.connection(for: "s3", now: t0.addingTimeInterval(61)) == nil)  // idle
        let stats = pool.stats
        #expect(stats.hits == 1 && stats.misses == 3 && stats.evictions == 3 && stats.size == 0)
    }

    /// Blocking work past threads + queue is refused at once (the caller answers 503), not queued.
    @Test func saturatedBlockingPoolRefusesMoreWork() async throws {
        let pool = BlockingPool(threads: 1, queueLimit: 1)
        let release = DispatchSemaphore(value: 0)
        let running = Task { try await pool.run { release.wait() } }
        let queued = Task { try await pool.run { () } }
        _ = try await eventually(within: 5, until: { $0 == 2 }) { pool.load }
        await #expect(throws: BlockingPoolError.saturated) { try await pool.run { () } }
        release.signal()
        try await running.value
        try await queued.value
        try await pool.run { () }  // room again
        await pool.shutdown()
    }
}
