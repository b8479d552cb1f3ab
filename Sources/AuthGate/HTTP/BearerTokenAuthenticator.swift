// BearerTokenAuthenticator: verifies `Authorization: Bearer` access tokens. No header passes
// through (the route decides); a bad token is rejected here with 401 invalid_token.
public import Hummingbird
public import HummingbirdAuth

public struct BearerTokenAuthenticator: AuthenticatorMiddleware {
    public typealias Context = GatewayContext
    let verifier: AccessTokenVerifier

    public init(verifier: AccessTokenVerifier) { self.verifier = verifier }

    public func authenticate(request: Request, context: GatewayContext) async throws -> AccessClaims? {
        guard let header = request.headers[.authorization] else { return nil }
        return try await verifier.verify(try Self.token(from: header))
    }

    /// The token of an `Authorization: Bearer` header; the scheme is case-insensitive (RFC 7235).
    /// Works on UTF-8 bytes: it runs on every verify, and grapheme-aware String calls cost more
    /// than the signature check.
    static func token(from header: String) throws(SessionError) -> String {
        let bytes = header.utf8
        let scheme = "bearer ".utf8
        guard bytes.count > scheme.count, zip(bytes, scheme).allSatisfy({ asciiLowercased($0) == $1 }) else {
            throw .invalidToken(tokenSent: !header.isEmpty)
        }
        let isBlank = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        let rest = bytes.dropFirst(scheme.count)
        guard let first = rest.firstIndex(where: { !isBlank($0) }), let last = rest.lastIndex(where: { !isBlank($0) }) else {
            throw .invalidToken(tokenSent: false)
        }
        return String(Substring(header.utf8[first...last]))
    }

    private static func asciiLowercased(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
    }
}
