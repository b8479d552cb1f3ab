// JWT: HS256 compact tokens, signed and verified with the key ring. Verification is strict by
// construction: one algorithm, a known kid, a 32-byte signature compared in constant time, then
// the claims. It works on the token's bytes: the header of a key in the ring is recognised by
// its exact encoding (no JSON parse), the claims are read by JWTJSON.
public import Foundation

public enum JWTError: Error, Equatable, CustomStringConvertible {
    case oversize, malformed, unsupportedAlgorithm, unknownKey, badSignature
    case expired, notYetValid, missingExpiry, wrongIssuer, wrongAudience
    /// The MAC could not be computed: never treated as a match.
    case macFailed

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
        case .macFailed: "token signature could not be computed"
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

    /// The JOSE header we write: `{"alg":"HS256","typ":"JWT","kid":…}` in that order.
    struct Header: Encodable {
        var alg: String
        var typ: String
        var kid: String
    }

    public func sign(_ claims: AccessClaims) throws(JWTError) -> String {
        let signer = keys.activeSigner
        let payload: [UInt8]
        do { payload = try WireJSONEncoder().encode(claims) } catch { throw .malformed }
        let signingInput = Array(signer.headerSegment.utf8) + [UInt8(ascii: ".")] + Array(Base64URL.encode(payload).utf8)
        let signature: [UInt8]
        do { signature = try signer.mac.authenticate(signingInput) } catch { throw .macFailed }
        return String(decoding: signingInput, as: UTF8.self) + "." + Base64URL.encode(signature)
    }

    /// Verifies signature and claims. With `ignoringExpiry` (logout only) an expired but
    /// authentic token is still accepted, so a user can always end their session.
    public func verify(_ token: String, now: Date = Date(), ignoringExpiry: Bool = false) throws(JWTError) -> AccessClaims {
        guard token.utf8.count <= Self.maximumTokenBytes else { throw .oversize }
        var token = token
        let ring = keys
        // withUTF8 rethrows untyped: the closure hands its outcome out as a Result.
        let claims = try token.withUTF8 { utf8 in Result { () throws(JWTError) -> AccessClaims in
            let bytes = UnsafeRawBufferPointer(utf8)
            guard let firstDot = bytes.firstIndex(of: UInt8(ascii: ".")),
                let secondDot = bytes[(firstDot + 1)...].firstIndex(of: UInt8(ascii: ".")),
                !bytes[(secondDot + 1)...].contains(UInt8(ascii: "."))
            else { throw .malformed }
            let header = UnsafeRawBufferPointer(rebasing: bytes[..<firstDot])
            let signer = try Self.signer(for: header, in: ring)
            guard let signature = Base64URL.decodeSegment(UnsafeRawBufferPointer(rebasing: bytes[(secondDot + 1)...])),
                signature.count == HMACSHA256Key.outputSize
            else { throw .malformed }
            let expected: [UInt8]
            do { expected = try signer.mac.authenticate(UnsafeRawBufferPointer(rebasing: bytes[..<secondDot])) } catch { throw .macFailed }
            guard Sodium.constantTimeEqual(expected, signature) else { throw .badSignature }
            guard let payload = Base64URL.decodeSegment(UnsafeRawBufferPointer(rebasing: bytes[(firstDot + 1)..<secondDot])) else {
                throw .malformed
            }
            return try payload.withUnsafeBytes { bytes in Result { () throws(JWTError) in try Self.claims(bytes) } }.get()
        } }.get()
        let nowSeconds = now.timeIntervalSince1970
        if !ignoringExpiry && TimeInterval(claims.exp) + Self.clockSkew <= nowSeconds { throw .expired }
        guard TimeInterval(claims.nbf) - Self.clockSkew <= nowSeconds else { throw .notYetValid }
        guard claims.iss == issuer else { throw .wrongIssuer }
        guard claims.aud.contains(audience) else { throw .wrongAudience }
        return claims
    }

    /// The key a token's header names: recognised by its exact bytes when we wrote it, else read
    /// as JSON (another HS256 library may order or space its header differently).
    static func signer(for header: UnsafeRawBufferPointer, in ring: KeyRing) throws(JWTError) -> KeyRing.Signer {
        if let known = ring.signers.first(where: { $0.headerSegmentBytes.elementsEqual(header) }) { return known }
        guard let decoded = Base64URL.decodeSegment(header) else { throw .malformed }
        var algorithm: String?
        var kid: String?
        try decoded.withUnsafeBytes { bytes in Result { () throws(JWTError) in
            var scanner = JWTJSONScanner(bytes)
            try scanner.object { scanner, name throws(JWTError) in
                if scanner.nameIs(name, "alg") {
                    guard algorithm == nil else { throw .malformed }
                    algorithm = try scanner.string()
                } else if scanner.nameIs(name, "kid") {
                    guard kid == nil else { throw .malformed }
                    kid = try scanner.string()
                } else if scanner.nameIs(name, "typ") {
                    _ = try scanner.string()
                } else if scanner.nameIs(name, "crit") {
                    throw .unsupportedAlgorithm  // RFC 7515 §4.1.11: extensions we do not know
                } else {
                    return false
                }
                return true
            }
        } }.get()
        // Only HS256: never `none`, never another HMAC width, never an asymmetric algorithm.
        guard algorithm == "HS256" else { throw .unsupportedAlgorithm }
        guard let kid, let signer = ring.signers.first(where: { $0.key.id == kid }) else { throw .unknownKey }
        return signer
    }

    /// The contract's claims from the payload's JSON; every one is required, `exp` most of all.
    static func claims(_ bytes: UnsafeRawBufferPointer) throws(JWTError) -> AccessClaims {
        var iss: String?, sub: String?, sid: String?, jti: String?, login: String?, email: String?, name: String?
        var audience: [String]?
        var iat: Int64?, nbf: Int64?, exp: Int64?
        var scanner = JWTJSONScanner(bytes)
        func once<T>(_ slot: inout T?, _ read: () throws(JWTError) -> T) throws(JWTError) {
            guard slot == nil else { throw .malformed }
            slot = try read()
        }
        try scanner.object { scanner, member throws(JWTError) in
            switch true {
            case scanner.nameIs(member, "iss"): try once(&iss) { () throws(JWTError) in try scanner.string() }
            case scanner.nameIs(member, "sub"): try once(&sub) { () throws(JWTError) in try scanner.string() }
            case scanner.nameIs(member, "sid"): try once(&sid) { () throws(JWTError) in try scanner.string() }
            case scanner.nameIs(member, "jti"): try once(&jti) { () throws(JWTError) in try scanner.string() }
            case scanner.nameIs(member, "login"): try once(&login) { () throws(JWTError) in try scanner.string() }
            case scanner.nameIs(member, "email"): try once(&email) { () throws(JWTError) in try scanner.string() }
            case scanner.nameIs(member, "name"): try once(&name) { () throws(JWTError) in try scanner.string() }
            case scanner.nameIs(member, "iat"): try once(&iat) { () throws(JWTError) in try scanner.integer() }
            case scanner.nameIs(member, "nbf"): try once(&nbf) { () throws(JWTError) in try scanner.integer() }
            case scanner.nameIs(member, "exp"): try once(&exp) { () throws(JWTError) in try scanner.integer() }
            case scanner.nameIs(member, "aud"): try once(&audience) { () throws(JWTError) in try Self.audience(&scanner) }
            default: return false
            }
            return true
        }
        guard let exp else { throw .missingExpiry }
        guard let iss, let audience, let sub, let sid, let jti, let iat, let nbf, let login, let email, let name else { throw .malformed }
        var claims = AccessClaims(iss: iss, aud: "", sub: sub, sid: sid, jti: jti, iat: iat, nbf: nbf, exp: exp, login: login, email: email, name: name)
        claims.aud = Audience(values: audience)
        return claims
    }

    /// RFC 7519 §4.1.3: one string, or an array of strings.
    private static func audience(_ scanner: inout JWTJSONScanner) throws(JWTError) -> [String] {
        scanner.skipWhitespace()
        guard scanner.peek == UInt8(ascii: "[") else { return [try scanner.string()] }
        scanner.index += 1
        var values: [String] = []
        scanner.skipWhitespace()
        if scanner.peek == UInt8(ascii: "]") {
            scanner.index += 1
            return values
        }
        while true {
            values.append(try scanner.string())
            scanner.skipWhitespace()
            guard let next = scanner.peek else { throw .malformed }
            scanner.index += 1
            if next == UInt8(ascii: "]") { return values }
            guard next == UInt8(ascii: ",") else { throw .malformed }
        }
    }
}
