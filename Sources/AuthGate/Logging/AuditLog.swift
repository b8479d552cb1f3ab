// AuditLog: one line per security event (logger `authgate.audit`, field `event`, the contract's
// names), with who, which session, from where and in which request; never a secret.
public import Logging

public struct AuditLog: Sendable {
    public enum Event: String, Sendable {
        case loginSucceeded = "login.succeeded"
        case loginFailed = "login.failed"
        case loginRateLimited = "login.rate_limited"
        case tokenRefreshed = "token.refreshed"
        case refreshReuseDetected = "refresh.reuse_detected"
        case sessionLoggedOut = "session.logged_out"
        case sessionRevoked = "session.revoked"
        case tokenRevoked = "token.revoked"
        case keysRotated = "keys.rotated"
        /// Beyond the contract's list: retiring a key ends what it signed or sealed.
        case keyRetired = "keys.retired"
        case userAdded = "user.added"
        case userRemoved = "user.removed"
        /// Beyond the contract's list: an operator reset a local user's password.
        case passwordChanged = "user.password_changed"
        case banCleared = "ban.cleared"
    }

    let logger: Logger

    public init(logger: Logger = Logger(label: "authgate.audit")) { self.logger = logger }

    public func record(
        _ event: Event, user: String? = nil, sessionID: String? = nil, clientIP: String? = nil, by: String? = nil,
        details: Logger.Metadata = [:]
    ) {
        var metadata: Logger.Metadata = ["event": .string(event.rawValue)]
        if let user { metadata["user"] = .string(user) }
        if let sessionID { metadata["session_id"] = .string(sessionID) }
        if let clientIP = clientIP ?? RequestScope.clientIP { metadata["client_ip"] = .string(clientIP) }
        if let by { metadata["by"] = .string(by) }
        if let requestID = RequestScope.requestID { metadata["request_id"] = .string(requestID) }
        metadata.merge(details) { current, _ in current }
        logger.notice("\(event.rawValue)", metadata: metadata)
    }
}
