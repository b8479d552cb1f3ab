// RevocationSync: polls the store for new revocations (MongoDB change streams would push them,
// but polling works on every store) so a revocation reaches every instance within a second.
public import Foundation
public import Logging
public import ServiceLifecycle

public struct RevocationSync: Service {
    let store: any SessionStore
    let view: RevocationView
    let pool: UpstreamPool
    let cache: SessionCache?
    let interval: TimeInterval
    let logger: Logger
    /// Overlap between polls: covers clock skew between instances and writes still in flight.
    static let overlap: TimeInterval = 5

    public init(store: any SessionStore, view: RevocationView, pool: UpstreamPool, cache: SessionCache? = nil, interval: TimeInterval, logger: Logger) {
        self.store = store
        self.view = view
        self.pool = pool
        self.cache = cache
        self.interval = interval
        self.logger = logger
    }

    /// One poll; the first (cursor nil) loads every unexpired revocation.
    @discardableResult
    public func poll(cursor: Date?) async throws -> Date {
        let started = Date()
        let since = cursor.map { $0.addingTimeInterval(-Self.overlap) } ?? Date(timeIntervalSince1970: 0)
        let batch = try await store.revocations(since: since, now: started)
        // A session revoked elsewhere (another instance, the CLI) leaves this instance's pool too,
        // so its upstream token does not stay in memory.
        for sessionID in view.apply(batch, syncedAt: started) {
            cache?.remove(sessionID)
            pool.evict(sessionID, reason: .revoked)
        }
        return started
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown { try await loop() }
    }

    private func loop() async throws {
        // Carry on from the start-up load (beforeServerStarts, after the migration) rather than
        // reloading everything; until it is done, the store may not even have its tables.
        while view.lastSync == nil && !Task.isCancelled {
            try await Task.sleep(for: .milliseconds(Int(interval * 1000)))
        }
        var cursor = view.lastSync
        var failing = false
        while !Task.isCancelled {
            do {
                cursor = try await poll(cursor: cursor)
                if failing {
                    logger.notice("revocation sync recovered")
                    failing = false
                }
            } catch {
                if !failing { logger.error("revocation sync failing; verifying on the last view", metadata: ["error": "\(error)"]) }
                failing = true
            }
            try await Task.sleep(for: .milliseconds(Int(interval * 1000)))
        }
    }
}
