// UserProfile: the USER object of the contract, as a provider reports it.
import Foundation

public struct UserProfile: Codable, Sendable, Equatable {
    public var id: String
    public var login: String
    public var email: String
    public var name: String
    public var upstreamID: UpstreamID

    public init(id: String, login: String, email: String, name: String, upstreamID: UpstreamID) {
        self.id = id
        self.login = login
        self.email = email
        self.name = name
        self.upstreamID = upstreamID
    }

    enum CodingKeys: String, CodingKey {
        case id, login, email, name
        case upstreamID = "upstream_id"
    }
}

/// `upstream_id` as the provider gives it: a number for ShotGrid, a string for local users.
public enum UpstreamID: Codable, Sendable, Equatable {
    case number(Int64)
    case string(String)

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Int64.self) {
            self = .number(number)
        } else {
            self = .string(try container.decode(String.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        }
    }
}
