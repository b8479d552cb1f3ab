// JWTTarget: JWTCodec.verify under four kinds of input: raw token text; header and payload JSON
// the fuzzer writes, signed with a ring key so the claims parser is reached; claims of the
// fuzzer's choosing through sign and verify; and byte edits of a valid token.
@testable import AuthGate
import Foundation

enum JWTTarget {
    static let now = Date(timeIntervalSince1970: 1_700_000_000)
    static let issuer = "authgate"
    static let audience = "authgate"

    /// Two signing keys, as after a rotation: "k-new" signs, "k-old" still verifies.
    static let ring: KeyRing = {
        let newKey = KeyRingKey(id: "k-new", material: Array(repeating: 0x11, count: 32))
        let oldKey = KeyRingKey(id: "k-old", material: Array(repeating: 0x22, count: 48))
        let seal = KeyRingKey(id: "s-1", material: Array(repeating: 0x33, count: 32))
        return try! KeyRing(signingKeys: [newKey, oldKey], activeSigningKeyID: "k-new", sealingKeys: [seal], activeSealingKeyID: "s-1")
    }()
    static let codec = JWTCodec(keys: ring, issuer: issuer, audience: audience)

    static let validClaims = AccessClaims(
        iss: issuer, aud: audience, sub: "user-1", sid: "sid-1", jti: "jti-1", iat: 1_700_000_000, nbf: 1_700_000_000,
        exp: 1_700_000_900, login: "alice", email: "alice@example.com", name: "Alice")
    // The ring's keys are valid and the claims plain: signing them cannot fail.
    static let validToken = try! codec.sign(validClaims)

    static func run(_ input: FuzzInput) {
        var input = input
        switch input.choice(4) {
        case 0: raw(input.restText())
        case 1: resigned(&input)
        case 2: roundTrip(&input)
        default: mutated(&input)
        }
    }

    /// Whatever verify accepts satisfies the contract's claim rules.
    static func checkAccepted(_ claims: AccessClaims, ignoringExpiry: Bool) {
        let seconds = now.timeIntervalSince1970
        expect(ignoringExpiry || TimeInterval(claims.exp) + JWTCodec.clockSkew > seconds, "expired token accepted")
        expect(TimeInterval(claims.nbf) - JWTCodec.clockSkew <= seconds, "token accepted before nbf")
        expect(claims.iss == issuer, "wrong issuer accepted")
        expect(claims.aud.contains(audience), "wrong audience accepted")
    }

    static func verify(_ token: String) -> AccessClaims? {
        let strict = try? codec.verify(token, now: now)
        let lenient = try? codec.verify(token, now: now, ignoringExpiry: true)
        if let strict { checkAccepted(strict, ignoringExpiry: false) }
        if let lenient { checkAccepted(lenient, ignoringExpiry: true) }
        expect(strict == nil || strict == lenient, "ignoringExpiry changed the claims")
        if token.utf8.count > JWTCodec.maximumTokenBytes { expect(lenient == nil, "oversize token accepted") }
        return strict
    }

    static func raw(_ token: String) {
        if verify(token) != nil {
            // Only a ring key can sign; an accepted raw input must be exactly our valid token.
            expect(token == validToken, "a token not signed by the ring verified")
        }
    }

    /// Header and payload are the fuzzer's bytes, signed with the key the header names when it
    /// is in the ring: past the signature check, only the claims rules stand.
    static func resigned(_ input: inout FuzzInput) {
        let useOldKey = input.bool()
        let header = input.field()
        let payload = input.rest()
        let key = useOldKey ? ring.signingKeys[1] : ring.signingKeys[0]
        let signingInput = Base64URL.encode(header) + "." + Base64URL.encode(payload)
        // The ring's keys are valid HMAC keys: keying and MACing with them cannot fail.
        let mac = try! HMACSHA256Key(key.material.value).authenticate(Array(signingInput.utf8))
        let token = signingInput + "." + Base64URL.encode(mac)
        guard verify(token) != nil else { return }
        // Accepted: the header must say HS256 and name the key that signed.
        let object = (try? JSONSerialization.jsonObject(with: Data(header))) as? [String: Any]
        expect(object?["alg"] as? String == "HS256", "accepted a header without alg HS256")
        expect(object?["kid"] as? String == key.id, "accepted a kid other than the signing key")
    }

    /// Any claims the gateway can issue verify back to themselves (the wire encoder and
    /// Foundation's decoder agree on every string).
    static func roundTrip(_ input: inout FuzzInput) {
        let iat = Int64(input.integer(Int32.self))
        let lifetime = Int64(input.integer(UInt16.self)) + 31
        let claims = AccessClaims(
            iss: issuer, aud: audience, sub: input.text(), sid: input.text(), jti: input.text(), iat: iat, nbf: iat,
            exp: iat + lifetime, login: input.text(), email: input.text(), name: input.restText())
        let token: String
        do { token = try codec.sign(claims) } catch { fatalError("claims the gateway can issue could not be signed: \(error)") }
        let at = Date(timeIntervalSince1970: TimeInterval(iat))
        if token.utf8.count > JWTCodec.maximumTokenBytes {
            expect((try? codec.verify(token, now: at)) == nil, "oversize token accepted")
            return
        }
        do {
            let back = try codec.verify(token, now: at)
            expect(back == claims, "claims changed on the way through sign and verify")
        } catch {
            fatalError("a token we signed did not verify: \(error)")
        }
    }

    /// Edits of a valid token: base64url has one spelling per value and the signature covers the
    /// rest, so any change must be refused.
    static func mutated(_ input: inout FuzzInput) {
        var bytes = Array(validToken.utf8)
        let edits = 1 + input.choice(4)
        for _ in 0..<edits {
            guard !input.isEmpty else { break }
            let position = Int(input.integer(UInt16.self)) % (bytes.count + 1)
            switch input.choice(4) {
            case 0: if position < bytes.count { bytes[position] = input.byte() }
            case 1: bytes.insert(input.byte(), at: position)
            case 2: if position < bytes.count { bytes.remove(at: position) }
            default: bytes = Array(bytes[..<position])
            }
        }
        let token = String(decoding: bytes, as: UTF8.self)
        if verify(token) != nil { expect(token == validToken, "an edited token verified") }
    }
}
