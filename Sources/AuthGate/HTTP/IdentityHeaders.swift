// IdentityHeaders: the five X-Authgate-* headers that tell a protected service who is calling,
// set by /auth/verify and by the reverse proxy alike.
public import HTTPTypes

public enum IdentityHeaders {
    public static let userID = HTTPField.Name("X-Authgate-User-Id")!
    public static let login = HTTPField.Name("X-Authgate-Login")!
    public static let email = HTTPField.Name("X-Authgate-Email")!
    public static let name = HTTPField.Name("X-Authgate-Name")!
    public static let session = HTTPField.Name("X-Authgate-Session")!

    /// The prefix every incoming spoof of these headers starts with (compared case-insensitively).
    static let prefix = "x-authgate-"

    static func set(_ claims: AccessClaims, in headers: inout HTTPFields) {
        headers[userID] = value(claims.sub)
        headers[login] = value(claims.login)
        headers[email] = value(claims.email)
        headers[name] = value(claims.name)
        headers[session] = value(claims.sid)
    }

    /// Header values cannot carry control characters; anything outside printable ASCII (and `%`)
    /// is percent-encoded, so a display name can neither inject nor break headers.
    static func value(_ text: String) -> String {
        PercentEncoding.encode(text) { $0 >= 0x20 && $0 < 0x7f && $0 != UInt8(ascii: "%") }
    }
}
