// IssuedTokens: what a login or refresh hands back; HTTP renders it as the token response.
import Foundation

public struct IssuedTokens: Sendable {
    public var accessToken: String
    public var expiresIn: Int
    public var refreshToken: Secret<String>
    public var refreshExpiresIn: Int
    public var session: SessionRecord
}
