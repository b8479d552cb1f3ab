// JWT: HS256 compact tokens, signed and verified with the key ring. Verification is strict by
// construction: one algorithm, a known kid, constant-time signature check, then the claims.
public import Foundation

public enum JWTError: Error, Equatable, CustomStringConvertible {
    case oversize, malformed, unsupportedAlgorithm, unknownKey, badSignature
    case expired, notYetValid, missingExpiry, wrongIssuer, wrongAudience

    public var description: String {
        switch self {
        case .oversize: "token is too large"
        case .malformed: "token is malformed"
        case .unsupportedAlgorithm: "token algorithm is not accepted"
        case .unknownKey: "token key is unknown"
        case .badSignature: "token signature is invalid"
        case .expired: "token has expired"
        case .notYetValid: "token is not yet valid"
        case .missingExpiry: "token has no expiry"
        case .wrongIssuer: "token issuer is not accepted"
        case .wrongAudience: "token audience is not accepted"
        }
    }
}

public struct JWTCodec: Sendable {
    public static let maximumTokenBytes = 8 * 1024
    public static let clockSkew: TimeInterval = 30

    public let ring: LiveKeyRing
    public let issuer: String
    public let audience: String

    public var keys: KeyRing { ring.current }

    public init(ring: LiveKeyRing, issuer: String, audience: String) {
        self.ring = ring
        self.issuer = issuer
        self.audience = audience
    }

    public init(keys: KeyRing, issuer: String, audience: String) {
        self.init(ring: LiveKeyRing(keys), issuer: issuer, audience: audience)
    }

    struct Header: Codable {
        var alg: String
        var typ: String?
        var kid: String?
    }

    public func sign(_ claims: AccessClaims) -> String {
        let key = keys.activeSigningKey
        // The wire encoder keeps field order: {"alg":"HS256","typ":"JWT","kid":…}
        let header = (try? WireJSONEncoder().encode(Header(alg: "HS256", typ: "JWT", kid: key.id))) ?? []
        let payload = (try? WireJSONEncoder().encode(claims)) ?? []
        let signingInput = Base64URL.encode(header) + "." + Base64URL.encode(payload)
        let signature = HMACSHA256.authenticate(Array(signingInput.utf8), key: key.material.value)
        return signingInput + "." + Base64URL.encode(signature)
    }

    /// Verifies signature and claims. With `ignoringExpiry` (logout only) an expired but
    /// authentic token is still accepted, so a user can always end their session.
    public func verify(_ token: String, now: Date = Date(), ignoringExpiry: Bool = false) throws(JWTError) -> AccessClaims {
        guard token.utf8.count <= Self.maximumTokenBytes else { throw .oversize }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Base64URL.decode(parts[0]),
            let signature = Base64URL.decode(parts[2])
        else { throw .malformed }
        guard let header = try? JSONDecoder().decode(Header.self, from: Data(headerBytes)) else { throw .malformed }
        // Only HS256: never `none`, never another HMAC width, never an asymmetric algorithm.
        guard header.alg == "HS256" else { throw .unsupportedAlgorithm }
        guard let kid = header.kid, let key = keys.signingKey(id: kid) else { throw .unknownKey }
        let signingInput = Array(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        let expected = HMACSHA256.authenticate(signingInput, key: key.material.value)
        guard Sodium.constantTimeEqual(expected, signature) else { throw .badSignature }

        guard let payloadBytes = Base64URL.decode(parts[1]) else { throw .malformed }
        let claims: AccessClaims
        do {
            claims = try JSONDecoder().decode(AccessClaims.self, from: Data(payloadBytes))
        } catch DecodingError.keyNotFound(let key, _) where key.stringValue == "exp" {
            throw .missingExpiry
        } catch {
            throw .malformed
        }
        let nowSeconds = now.timeIntervalSince1970
        if !ignoringExpiry && TimeInterval(claims.exp) + Self.clockSkew <= nowSeconds { throw .expired }
        guard TimeInterval(claims.nbf) - Self.clockSkew <= nowSeconds else { throw .notYetValid }
        guard claims.iss == issuer else { throw .wrongIssuer }
        guard claims.aud.contains(audience) else { throw .wrongAudience }
        return claims
    }
}
