// RefreshToken: opaque 256-bit random tokens; only their SHA-256 is ever stored.

public enum RefreshToken {
    /// 32 random bytes, base64url: 43 characters.
    public static func generate() -> Secret<String> {
        Secret(Base64URL.encode(Sodium.randomBytes(32)))
    }

    /// The stored form. A plain hash suffices: the token has 256 bits of entropy, so there is
    /// nothing to brute-force and no need for a slow or salted hash.
    public static func hash(_ token: String) -> String {
        Sodium.sha256Hex(token)
    }

    /// Cheap shape check before any store lookup.
    public static func isWellFormed(_ token: String) -> Bool {
        token.utf8.count == 43 && Base64URL.decode(token)?.count == 32
    }
}

public enum Identifier {
    /// Random ids for sessions, JWTs and users: 128 bits as 32 lowercase hex digits. Not base64url:
    /// an id starting with "-" would be read as an option by `authgate sessions revoke`, and "-"
    /// breaks double-click selection when an operator copies an id.
    public static func random() -> String { Sodium.hex(Sodium.randomBytes(16)) }
}
