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
    /// Now and then every unexpired revocation is read again, whatever the cursor: a safety net
    /// under the incremental polls (an index rebuilt, a clock stepped back on a database host).
    static let fullReloadInterval: TimeInterval = 60
    static let writerClockMargin: TimeInterval = 600

    public init(store: any SessionStore, view: RevocationView, pool: UpstreamPool, cache: SessionCache? = nil, interval: TimeInterval, logger: Logger) {
        self.store = store
        self.view = view
        self.pool = pool
        self.cache = cache
        self.interval = interval
        self.logger = logger
    }

    /// One poll from `cursor` (nil: every unexpired revocation); returns the next cursor.
    @discardableResult
    public func poll(cursor: RevocationCursor?) async throws -> RevocationCursor? {
        let started = Date()
        // Older revocations' access tokens have all expired; the margin covers writers whose clock
        // lags (the incremental polls, in the store's order, do not depend on it at all).
        let revokedSince = started.addingTimeInterval(-(view.horizon + Self.writerClockMargin))
        let (batch, next) = try await store.revocations(after: cursor, revokedSince: revokedSince, now: started)
        // A session revoked elsewhere (another instance, the CLI) leaves this instance's pool and
        // cache too, so its upstream token does not stay in memory.
        for sessionID in view.apply(batch, syncedAt: started) {
            cache?.remove(sessionID)
            pool.evict(sessionID, reason: .revoked)
        }
        view.setCursor(next)
        return next
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
        var cursor = view.cursor
        var lastFullLoad = Date()
        var failing = false
        while !Task.isCancelled {
            do {
                let full = Date().timeIntervalSince(lastFullLoad) >= Self.fullReloadInterval
                cursor = try await poll(cursor: full ? nil : cursor)
                if full { lastFullLoad = Date() }
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
