// SessionError: what the session flows refuse, in the flows' own terms. HTTP/APIError maps each
// case to the contract's status, error code and headers; nothing here knows about HTTP.

public enum SessionError: Error, Equatable, Sendable {
    /// The caller's input cannot be used (missing, too long, control characters).
    case invalidRequest(String)
    /// Wrong credentials, or a refresh token that is unknown, expired, revoked or reused.
    case invalidGrant
    /// A missing, malformed, expired, tampered or revoked access token; `tokenSent` tells a
    /// missing token from a bad one (RFC 6750 §3.1).
    case invalidToken(tokenSent: Bool)
    /// Refused by policy: CSRF, a foreign origin, a route this session's provider cannot serve.
    case accessDenied(String)
    /// Too many failed sign-ins for this login or address.
    case rateLimited(retryAfter: Int)
    case notFound
    /// The store cannot be reached: an outage, never a credential error.
    case storeUnavailable
    /// The identity provider cannot be reached or is failing.
    case upstreamUnavailable
    /// Bounded work queues are full; the caller should retry shortly.
    case overloaded
    /// Something that cannot happen in a healthy process (a MAC that could not be computed).
    case serverError
}
