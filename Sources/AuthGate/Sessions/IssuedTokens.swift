// IssuedTokens: what a login or refresh hands back: the contract's token response.
public import Foundation

public struct IssuedTokens: Sendable {
    public var accessToken: String
    public var expiresIn: Int
    public var refreshToken: Secret<String>
    public var refreshExpiresIn: Int
    public var session: SessionRecord

    /// The token response body.
    public var json: String {
        let user = session.user
        let upstreamID: String =
            switch user.upstreamID {
            case .number(let n): String(n)
            case .string(let s): GatewayError.jsonString(s)
            }
        return """
            {"access_token":\(GatewayError.jsonString(accessToken)),"token_type":"Bearer","expires_in":\(expiresIn),\
            "refresh_token":\(GatewayError.jsonString(refreshToken.value)),"refresh_expires_in":\(refreshExpiresIn),\
            "session_id":\(GatewayError.jsonString(session.id)),"user":\(UserProfile.json(user, upstreamID: upstreamID))}
            """
    }
}

extension UserProfile {
    static func json(_ user: UserProfile, upstreamID: String) -> String {
        """
        {"id":\(GatewayError.jsonString(user.id)),"login":\(GatewayError.jsonString(user.login)),\
        "email":\(GatewayError.jsonString(user.email)),"name":\(GatewayError.jsonString(user.name)),"upstream_id":\(upstreamID)}
        """
    }
}
