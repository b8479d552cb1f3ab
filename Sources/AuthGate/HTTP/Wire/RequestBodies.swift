// RequestBodies: the JSON or form bodies the gateway's own endpoints accept.

struct LoginRequest: Decodable {
    var username: String
    var password: String
}

struct RefreshTokenRequest: Decodable {
    var refresh_token: String
}

/// A post from the sign-in or sign-out page (form-encoded); every field is optional so a
/// missing one re-renders the page instead of failing the decode.
struct PageForm: Decodable {
    var page: String?
    var username: String?
    var password: String?
    var rd: String?
}
