// LoginRegulator: the login throttling policy, written once above the stores: failures are
// counted per login and per client address, and a key past the limit is banned for a while.
public import Foundation
public import Logging

public struct LoginRegulator: Sendable {
    let store: any SessionStore
    let maxFailures: Int
    let window: TimeInterval
    let ban: TimeInterval
    let audit: AuditLog
    let logger: Logger

    public init(store: any SessionStore, maxFailures: Int, window: TimeInterval, ban: TimeInterval, audit: AuditLog, logger: Logger) {
        self.store = store
        self.audit = audit
        self.maxFailures = maxFailures
        self.window = window
        self.ban = ban
        self.logger = logger
    }

    static func userKey(_ login: String) -> String { "user:" + login.lowercased() }
    static func addressKey(_ clientIP: String) -> String { "ip:" + clientIP }

    /// Runs `attempt` unless a ban is in force; counts its `.invalidGrant` as a failure. A success
    /// clears only the user's counter: clearing the address's would let a sprayer reset it with
    /// one login of their own per round.
    func regulate<T>(login: String, clientIP: String, now: Date, _ attempt: () async throws(SessionError) -> T) async throws(SessionError) -> T {
        let keys = [Self.userKey(login), Self.addressKey(clientIP)]
        try await storeCall(logger) { () throws -> Void in
            for key in keys {
                if let until = try await store.loginBan(key: key, now: now) {
                    audit.record(.loginRateLimited, user: login, clientIP: clientIP)
                    throw SessionError.rateLimited(retryAfter: Int(until.timeIntervalSince(now).rounded(.up)))
                }
            }
        }
        do {
            let result = try await attempt()
            try await storeCall(logger) { try await store.clearLoginFailures(key: Self.userKey(login)) }
            return result
        } catch .invalidGrant {
            try await storeCall(logger) { () throws -> Void in
                for key in keys {
                    _ = try await store.recordLoginFailure(key: key, now: now, window: window, maxFailures: maxFailures, ban: ban)
                }
            }
            throw .invalidGrant
        }
    }
}
