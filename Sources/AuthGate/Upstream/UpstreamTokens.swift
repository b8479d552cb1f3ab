// UpstreamTokens: the identity provider's tokens for one session. In memory only inside the pool;
// at rest only as a SealedBox.
public import Foundation

public struct UpstreamTokens: Sendable, Codable, Equatable {
    public var accessToken: Secret<String>
    public var refreshToken: Secret<String>?
    public var expiresAt: Date
    /// The lifetime the provider granted, which sets when to renew.
    public var lifetime: TimeInterval

    public init(accessToken: String, refreshToken: String?, expiresAt: Date, lifetime: TimeInterval) {
        self.accessToken = Secret(accessToken)
        self.refreshToken = refreshToken.map(Secret.init)
        self.expiresAt = expiresAt
        self.lifetime = lifetime
    }

    /// Renew when less than min(5 minutes, half the lifetime) is left.
    public func needsRenewal(at now: Date) -> Bool {
        expiresAt.timeIntervalSince(now) < min(300, lifetime / 2)
    }

    enum CodingKeys: String, CodingKey { case accessToken = "a", refreshToken = "r", expiresAt = "e", lifetime = "l" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        accessToken = Secret(try c.decode(String.self, forKey: .accessToken))
        refreshToken = try c.decodeIfPresent(String.self, forKey: .refreshToken).map(Secret.init)
        expiresAt = Date(timeIntervalSince1970: try c.decode(Double.self, forKey: .expiresAt))
        lifetime = try c.decode(Double.self, forKey: .lifetime)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(accessToken.value, forKey: .accessToken)
        try c.encodeIfPresent(refreshToken?.value, forKey: .refreshToken)
        try c.encode(expiresAt.timeIntervalSince1970, forKey: .expiresAt)
        try c.encode(lifetime, forKey: .lifetime)
    }

    /// Sealed for the store, bound to the session id.
    func sealed(with sealer: Sealer, sessionID: String) -> SealedBox {
        var plaintext = Array((try? JSONEncoder().encode(self)) ?? Data())
        defer { Sodium.wipe(&plaintext) }
        return sealer.seal(plaintext, associatedData: sessionID)
    }

    static func unseal(_ box: SealedBox, with sealer: Sealer, sessionID: String) throws -> UpstreamTokens {
        var plaintext = try sealer.open(box, associatedData: sessionID)
        defer { Sodium.wipe(&plaintext) }
        return try JSONDecoder().decode(UpstreamTokens.self, from: Data(plaintext))
    }
}
