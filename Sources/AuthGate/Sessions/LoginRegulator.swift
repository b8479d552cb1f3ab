// LoginRegulator: the sign-in throttling policy, written once above the stores (which keep only
// atomic counters). Every attempt is counted before the password is checked, per login and per
// client address (an IPv6 client by its /64), so parallel guesses cannot all be checked: past
// `maxFailures` in the window the key is banned for `ban`. Attempts in flight on this instance
// are bounded too, so one login cannot hold every argon2id or ShotGrid worker.
public import Foundation
public import Logging
import NIOConcurrencyHelpers

public final class LoginRegulator: Sendable {
    let store: any SessionStore
    let maxFailures: Int
    let window: TimeInterval
    let ban: TimeInterval
    let audit: AuditLog
    let logger: Logger
    /// Attempts running now on this instance, by key.
    private let inFlight = NIOLockedValueBox<[String: Int]>([:])
    static let maxInFlightPerLogin = 4
    static let maxInFlightPerAddress = 16

    public init(store: any SessionStore, maxFailures: Int, window: TimeInterval, ban: TimeInterval, audit: AuditLog, logger: Logger) {
        self.store = store
        self.maxFailures = maxFailures
        self.window = window
        self.ban = ban
        self.audit = audit
        self.logger = logger
    }

    static func userKey(_ login: String) -> String { "user:" + login.lowercased() }

    /// IPv4 by address, IPv6 by /64: one subscriber usually holds a whole /64.
    static func addressKey(_ clientIP: String) -> String { "ip:" + (IPAddress(clientIP)?.regulationKey ?? clientIP) }

    /// Runs `attempt` when the login and the address may try now; counts it first. A wrong
    /// password keeps its count (and bans the key at the limit); a success clears the login's
    /// counter and takes back the address's one count, so a sprayer cannot reset an address by
    /// signing in to an account of their own; a refusal while banned, and an outage, take back
    /// the counts. The store is called twice on the usual path: the count (which also reports
    /// bans) and the settling after the answer.
    func regulate<T>(login: String, clientIP: String, now: Date, _ attempt: () async throws(SessionError) -> T) async throws(SessionError) -> T {
        let userKey = Self.userKey(login), addressKey = Self.addressKey(clientIP)
        let keys = [userKey, addressKey]
        guard enter(userKey, limit: Self.maxInFlightPerLogin) else { throw refusal(login, clientIP, until: now.addingTimeInterval(1), now: now) }
        defer { leave(userKey) }
        guard enter(addressKey, limit: Self.maxInFlightPerAddress) else {
            throw refusal(login, clientIP, until: now.addingTimeInterval(1), now: now)
        }
        defer { leave(addressKey) }

        let counts = try await storeCall(logger) { try await store.countLoginAttempts(keys: keys, window: window, now: now) }
        if let until = counts.compactMap(\.bannedUntil).max() {
            // A banned key refuses without an attempt, so the other key is not charged for it.
            let charged = zip(keys, counts).filter { $0.1.bannedUntil == nil }.map(\.0)
            try await storeCall(logger) { try await store.takeBackLoginAttempts(undo: charged, reset: []) }
            throw refusal(login, clientIP, until: until, now: now)
        }
        if let over = zip(keys, counts).first(where: { $0.1.count > maxFailures })?.0 {
            try await banKeys([over], now: now)
            throw refusal(login, clientIP, until: now.addingTimeInterval(ban), now: now)
        }
        do {
            let result = try await attempt()
            try await storeCall(logger) { try await store.takeBackLoginAttempts(undo: [addressKey], reset: [userKey]) }
            return result
        } catch .invalidGrant {
            // Checked again after the answer: the failure that reaches the limit bans.
            try await banKeys(zip(keys, counts).filter { $0.1.count >= maxFailures }.map(\.0), now: now)
            throw .invalidGrant
        } catch {
            try await storeCall(logger) { try await store.takeBackLoginAttempts(undo: keys, reset: []) }
            throw error
        }
    }

    private func banKeys(_ keys: [String], now: Date) async throws(SessionError) {
        guard !keys.isEmpty else { return }
        try await storeCall(logger) { for key in keys { try await store.banLogin(key: key, until: now.addingTimeInterval(ban)) } }
    }

    private func refusal(_ login: String, _ clientIP: String, until: Date, now: Date) -> SessionError {
        audit.record(.loginRateLimited, user: login, clientIP: clientIP)
        return .rateLimited(retryAfter: Int(until.timeIntervalSince(now).rounded(.up)))
    }

    private func enter(_ key: String, limit: Int) -> Bool {
        inFlight.withLockedValue { running in
            guard running[key, default: 0] < limit else { return false }
            running[key, default: 0] += 1
            return true
        }
    }

    private func leave(_ key: String) {
        inFlight.withLockedValue { running in
            running[key, default: 1] -= 1
            if running[key] == 0 { running[key] = nil }
        }
    }
}
