// TokenResponse: the contract's answer to a login or refresh.

struct TokenResponse: Encodable {
    var access_token: String
    var token_type = "Bearer"
    var expires_in: Int
    /// Absent from a cookie-authenticated refresh: the cookie carries it, page scripts never see it.
    var refresh_token: String?
    var refresh_expires_in: Int
    var session_id: String
    var user: UserProfile

    init(_ issued: IssuedTokens, includeRefreshToken: Bool) {
        access_token = issued.accessToken
        expires_in = issued.expiresIn
        refresh_token = includeRefreshToken ? issued.refreshToken.value : nil
        refresh_expires_in = issued.refreshExpiresIn
        session_id = issued.session.id
        user = issued.session.user
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(access_token, forKey: .access_token)
        try container.encode(token_type, forKey: .token_type)
        try container.encode(expires_in, forKey: .expires_in)
        try container.encodeIfPresent(refresh_token, forKey: .refresh_token)
        try container.encode(refresh_expires_in, forKey: .refresh_expires_in)
        try container.encode(session_id, forKey: .session_id)
        try container.encode(user, forKey: .user)
    }

    enum CodingKeys: String, CodingKey {
        case access_token, token_type, expires_in, refresh_token, refresh_expires_in, session_id, user
    }
}
