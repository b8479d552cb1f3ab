// RequestBodies: the JSON or form bodies the gateway's own endpoints accept.

struct LoginRequest: Decodable {
    var username: String
    var password: String
}

struct RefreshTokenRequest: Decodable {
    var refresh_token: String
}
