// AccessClaims: the claims of an authgate access token, as the contract lists them.
public import Foundation

public struct AccessClaims: Codable, Sendable, Equatable {
    public var iss: String
    public var aud: Audience
    public var sub: String
    public var sid: String
    public var jti: String
    public var iat: Int64
    public var nbf: Int64
    public var exp: Int64
    public var login: String
    public var email: String
    public var name: String

    public init(iss: String, aud: String, sub: String, sid: String, jti: String, iat: Int64, nbf: Int64, exp: Int64, login: String, email: String, name: String) {
        self.iss = iss
        self.aud = Audience(aud)
        self.sub = sub
        self.sid = sid
        self.jti = jti
        self.iat = iat
        self.nbf = nbf
        self.exp = exp
        self.login = login
        self.email = email
        self.name = name
    }

    public var expiresAt: Date { Date(timeIntervalSince1970: TimeInterval(exp)) }
}

/// RFC 7519 §4.1.3: `aud` is one string or an array of strings; we issue a string.
public struct Audience: Codable, Sendable, Equatable {
    public var values: [String]

    public init(_ value: String) { values = [value] }

    public init(values: [String]) { self.values = values }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let single = try? container.decode(String.self) {
            values = [single]
        } else {
            values = try container.decode([String].self)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if values.count == 1 { try container.encode(values[0]) } else { try container.encode(values) }
    }

    public func contains(_ audience: String) -> Bool { values.contains(audience) }
}
