// JWTTests: signing, the attack set the verifier must refuse, and interop with PyJWT.
@testable import AuthGate
import AuthGateTesting
import Foundation
import Testing

@Suite struct JWTTests {
    let keys = KeyRing.generate()
    var codec: JWTCodec { JWTCodec(keys: keys, issuer: "authgate", audience: "authgate") }
    let now = Date()

    func claims(exp: TimeInterval = 900, nbf: TimeInterval = 0, iss: String = "authgate", aud: String = "authgate") -> AccessClaims {
        let t = Int64(now.timeIntervalSince1970)
        return AccessClaims(
            iss: iss, aud: aud, sub: "u1", sid: "s1", jti: "j1", iat: t, nbf: t + Int64(nbf), exp: t + Int64(exp),
            login: "alice", email: "a@example.com", name: "Alice")
    }

    /// Builds a token with any header and payload, signed with `key` under HS256.
    func forge(header: String, payload: String, key: [UInt8]? = nil) throws -> String {
        let input = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(payload.utf8))
        let signature = try HMACSHA256Key(key ?? keys.activeSigningKey.material.value).authenticate(Array(input.utf8))
        return input + "." + Base64URL.encode(signature)
    }

    var payload: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try! encoder.encode(claims()), as: UTF8.self)
    }

    @Test func signedTokenVerifiesWithHeaderOfContract() throws {
        let token = try codec.sign(claims())
        #expect(try codec.verify(token, now: now) == claims())
        let header = String(decoding: Base64URL.decode(token.split(separator: ".")[0])!, as: UTF8.self)
        #expect(header == #"{"alg":"HS256","typ":"JWT","kid":"\#(keys.activeSigningKeyID)"}"#)
    }

    @Test func attackSetIsRefused() throws {
        let kid = keys.activeSigningKeyID
        let good = try codec.sign(claims())
        let parts = good.split(separator: ".").map(String.init)
        var flipped = Base64URL.decode(parts[2])!
        flipped[0] ^= 0x01
        var changedPayload = payload.replacingOccurrences(of: "\"sub\":\"u1\"", with: "\"sub\":\"admin\"")
        changedPayload = Base64URL.encode(Array(changedPayload.utf8))
        let cases: [(String, String, JWTError)] = [
            ("alg none", Base64URL.encode(Array(#"{"alg":"none","typ":"JWT","kid":"\#(kid)"}"#.utf8)) + "." + parts[1] + ".", .unsupportedAlgorithm),
            ("HS512", try forge(header: #"{"alg":"HS512","typ":"JWT","kid":"\#(kid)"}"#, payload: payload), .unsupportedAlgorithm),
            ("RS256", try forge(header: #"{"alg":"RS256","typ":"JWT","kid":"\#(kid)"}"#, payload: payload), .unsupportedAlgorithm),
            ("unknown kid", try forge(header: #"{"alg":"HS256","typ":"JWT","kid":"nope"}"#, payload: payload), .unknownKey),
            ("no kid", try forge(header: #"{"alg":"HS256","typ":"JWT"}"#, payload: payload), .unknownKey),
            ("flipped signature", parts[0] + "." + parts[1] + "." + Base64URL.encode(flipped), .badSignature),
            ("changed claim", parts[0] + "." + changedPayload + "." + parts[2], .badSignature),
            ("other key", try forge(header: #"{"alg":"HS256","typ":"JWT","kid":"\#(kid)"}"#, payload: payload, key: Array(repeating: 7, count: 32)), .badSignature),
            ("expired", try codec.sign(claims(exp: -31)), .expired),
            ("not yet valid", try codec.sign(claims(nbf: 120)), .notYetValid),
            ("wrong iss", try codec.sign(claims(iss: "evil")), .wrongIssuer),
            ("wrong aud", try codec.sign(claims(aud: "other")), .wrongAudience),
            ("oversize", String(repeating: "a", count: 8 * 1024 + 1), .oversize),
            ("bad base64", parts[0] + ".!!!." + parts[2], .badSignature),
            ("bad base64 header", "@@@." + parts[1] + "." + parts[2], .malformed),
            ("two parts", parts[0] + "." + parts[1], .malformed),
            ("no exp", try forge(header: #"{"alg":"HS256","typ":"JWT","kid":"\#(kid)"}"#, payload: payload.replacingOccurrences(of: #""exp":\d+,"#, with: "", options: .regularExpression)), .missingExpiry),
        ]
        for (name, token, expected) in cases {
            #expect(throws: expected, "\(name)") { try codec.verify(token, now: now) }
        }
    }

    @Test func clockSkewOfThirtySecondsIsAllowed() throws {
        #expect(throws: Never.self) { try codec.verify(try codec.sign(claims(exp: -20)), now: now) }
        #expect(throws: Never.self) { try codec.verify(try codec.sign(claims(nbf: 20)), now: now) }
    }

    @Test func rotatedOutKeyStillVerifiesUntilRemoved() throws {
        let old = try codec.sign(claims())
        let rotated = JWTCodec(keys: keys.rotated(), issuer: "authgate", audience: "authgate")
        #expect(try rotated.verify(old, now: now).sub == "u1")
        #expect(try rotated.sign(claims()).contains(".") && rotated.keys.activeSigningKeyID != keys.activeSigningKeyID)
    }

    /// Any standard JWT library given the key must verify our tokens: PyJWT, from scripts/test's venv.
    /// Ids are pasted into `authgate sessions revoke ID`: never a leading "-" that reads as an option.
    @Test func identifiersAreHexAndUnique() {
        let ids = (0..<2000).map { _ in Identifier.random() }
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy { $0.utf8.count == 32 && $0.allSatisfy(\.isHexDigit) && $0 == $0.lowercased() })
        #expect(Sodium.hex([0x00, 0x7f, 0xff]) == "007fff")
    }

    @Test func bearerHeaderParsing() throws {
        for header in ["Bearer abc.def", "bearer abc.def", "BEARER  abc.def \t"] {
            #expect(try BearerTokenAuthenticator.token(from: header) == "abc.def")
        }
        for header in ["", "Bearer", "Bearer ", "Bearer  \t ", "Basic abc", "Bearer\u{0}abc", "Bearerabc"] {
            #expect(throws: SessionError.self) { try BearerTokenAuthenticator.token(from: header) }
        }
    }

    /// Strict base64url: one spelling per byte string, no padding, no foreign characters.
    @Test func base64URLIsStrict() {
        for length in 0..<40 {
            let bytes = Sodium.randomBytes(length)
            let text = Base64URL.encode(bytes)
            #expect(!text.contains("=") && !text.contains("+") && !text.contains("/"))
            #expect(Base64URL.decode(text) == bytes)
        }
        #expect(Base64URL.decode("aQ") == [0x69])
        for bad in ["a", "ab", "aQ==", "a+b/", "aQ.", " aQ", "aQ\n"] {  // "ab": non-zero trailing bits
            #expect(Base64URL.decode(bad) == nil, "\(bad)")
        }
    }

    @Test(.enabled(if: TestPython.isAvailable, Comment(rawValue: TestPython.unavailableReason)))
    func pyJWTVerifiesOurTokens() async throws {
        let token = try codec.sign(claims())
        let verified = try await TestPython.verifyJWT(token, key: keys.activeSigningKey.material.value, audience: "authgate", issuer: "authgate")
        #expect(verified?.sub == "u1" && verified?.kid == keys.activeSigningKeyID)
        // And PyJWT refuses it with another key: the check above is not vacuous.
        #expect(try await TestPython.verifyJWT(token, key: Array(repeating: 7, count: 32), audience: "authgate", issuer: "authgate") == nil)
    }
}

@Suite struct SealingAndKeyTests {
    @Test func sealedValueOpensOnlyForItsSession() throws {
        let sealer = Sealer(keys: KeyRing.generate())
        let box = sealer.seal(Array("upstream-token".utf8), associatedData: "session-a")
        #expect(try sealer.open(box, associatedData: "session-a") == Array("upstream-token".utf8))
        #expect(throws: SealingError.openFailed) { try sealer.open(box, associatedData: "session-b") }
        var tampered = box
        tampered.ciphertext[0] ^= 1
        #expect(throws: SealingError.openFailed) { try sealer.open(tampered, associatedData: "session-a") }
        var foreign = box
        foreign.keyID = "missing"
        #expect(throws: SealingError.unknownKey) { try sealer.open(foreign, associatedData: "session-a") }
        #expect(box.nonce.count == 24 && !box.ciphertext.contains(subsequence: Array("upstream-token".utf8)))
    }

    @Test func keyRingFileIsCreatedPrivateAndReloads() throws {
        let directory = try TestEnvironment.temporaryDirectory()
        let path = directory + "/keys.json"
        let (ring, created) = try KeyRingFile.loadOrCreate(path: path, jwtSecret: nil, sealKey: nil)
        #expect(created)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let again = try KeyRingFile.loadOrCreate(path: path, jwtSecret: nil, sealKey: nil)
        #expect(!again.created && again.ring.activeSigningKeyID == ring.activeSigningKeyID)
        chmod(path, 0o644)
        #expect(throws: KeyRingError.self) { try KeyRingFile.load(path: path) }
    }

    @Test func shortJWTSecretIsRefusedAtStartUp() throws {
        let directory = try TestEnvironment.temporaryDirectory()
        #expect(throws: KeyRingError.self) {
            try KeyRingFile.loadOrCreate(path: directory + "/k.json", jwtSecret: Secret("too-short"), sealKey: nil)
        }
        #expect(throws: KeyRingError.self) {
            try KeyRingFile.loadOrCreate(path: directory + "/k.json", jwtSecret: nil, sealKey: Secret("AAAA"))
        }
        let ring = try KeyRingFile.loadOrCreate(
            path: directory + "/k2.json", jwtSecret: Secret(String(repeating: "s", count: 32)),
            sealKey: Secret(Data(repeating: 1, count: 32).base64EncodedString())
        ).ring
        #expect(ring.activeSigningKeyID.hasPrefix("env-"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/k2.json"))
    }

    @Test func secretsNeverPrint() {
        let secret = Secret("hunter2")
        #expect("\(secret)" == "***")
        #expect(String(reflecting: secret) == "***")
        var dumped = ""
        dump(secret, to: &dumped)
        #expect(!dumped.contains("hunter2"))
    }
}

extension Array where Element: Equatable {
    func contains(subsequence: [Element]) -> Bool {
        guard subsequence.count <= count else { return false }
        return (0...(count - subsequence.count)).contains { Array(self[$0..<($0 + subsequence.count)]) == subsequence }
    }
}
