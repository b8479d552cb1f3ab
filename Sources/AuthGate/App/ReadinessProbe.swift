// ReadinessProbe: what /readyz reports: whether this instance can verify tokens (a fresh
// revocation view), and whether the store and the identity provider answer. Results are kept a
// few seconds, so a flood of unauthenticated probes cannot turn into store or ShotGrid traffic.
public import Foundation
import NIOConcurrencyHelpers

public final class ReadinessProbe: Sendable {
    public struct Report: Sendable, Equatable {
        public var canVerify: Bool
        public var failing: [String]

        public var status: String { !canVerify ? "unavailable" : (failing.isEmpty ? "ok" : "degraded") }
    }

    let store: any SessionStore
    let provider: any IdentityProvider
    let revocations: RevocationView
    let failStatic: TimeInterval
    let cacheFor: TimeInterval
    private let cached = NIOLockedValueBox<(at: Date, checks: [String])?>(nil)

    public init(store: any SessionStore, provider: any IdentityProvider, revocations: RevocationView, failStatic: TimeInterval, cacheFor: TimeInterval = 2) {
        self.store = store
        self.provider = provider
        self.revocations = revocations
        self.failStatic = failStatic
        self.cacheFor = cacheFor
    }

    public func report(now: Date = Date()) async -> Report {
        let failing = await failingChecks(now: now)
        let canVerify = revocations.isFresh(now: now, failStatic: failStatic)
        return Report(canVerify: canVerify, failing: canVerify ? failing : failing + ["revocation_view"])
    }

    private func failingChecks(now: Date) async -> [String] {
        if let cached = cached.withLockedValue({ $0 }), now.timeIntervalSince(cached.at) < cacheFor { return cached.checks }
        async let storeFails = Self.fails { try await self.store.ping() }
        async let providerFails = Self.fails { try await self.provider.check() }
        let checks = [("store", await storeFails), ("provider", await providerFails)].filter(\.1).map(\.0)
        cached.withLockedValue { $0 = (now, checks) }
        return checks
    }

    private static func fails(_ body: @Sendable () async throws -> Void) async -> Bool {
        do {
            try await body()
            return false
        } catch {
            return true
        }
    }
}
