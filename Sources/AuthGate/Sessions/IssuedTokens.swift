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
        """
            {"access_token":\(GatewayError.jsonString(accessToken)),"token_type":"Bearer","expires_in":\(expiresIn),\
            "refresh_token":\(GatewayError.jsonString(refreshToken.value)),"refresh_expires_in":\(refreshExpiresIn),\
            "session_id":\(GatewayError.jsonString(session.id)),"user":\(session.user.json)}
            """
    }
}

extension UserProfile {
    /// The contract's USER object; `upstream_id` keeps the provider's type (a number for ShotGrid).
    var json: String {
        let upstreamID: String =
            switch self.upstreamID {
            case .number(let n): String(n)
            case .string(let s): GatewayError.jsonString(s)
            }
        let user = self
        return """
        {"id":\(GatewayError.jsonString(user.id)),"login":\(GatewayError.jsonString(user.login)),\
        "email":\(GatewayError.jsonString(user.email)),"name":\(GatewayError.jsonString(user.name)),"upstream_id":\(upstreamID)}
        """
    }
}
