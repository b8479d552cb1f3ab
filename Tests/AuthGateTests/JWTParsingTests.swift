// JWTParsingTests: the byte-level header and claims reader (the verify hot path) against
// Foundation's JSONDecoder on the same inputs, and the signature rules: exactly 32 bytes, a MAC
// that could not be computed never matches, tokens from another JWT library verify.
@testable import AuthGate
import AuthGateTesting
import Foundation
import Testing

@Suite struct JWTParsingTests {
    static let baseClaims = #"{"iss":"authgate","aud":"authgate","sub":"u1","sid":"s1","jti":"j1","iat":1700000000,"nbf":1700000000,"exp":1700000900,"login":"alice","email":"a@example.com","name":"Alice"}"#

    /// Claim sets written every way JSON allows: order, whitespace, escapes, unicode, an array
    /// audience, unknown members of every kind.
    static let accepted: [String] = [
        baseClaims,
        #"{ "exp" : 1700000900 , "nbf":1700000000,"iat":1700000000,"jti":"j1","sid":"s1","sub":"u1","aud":"authgate","iss":"authgate","name":"Alice","email":"a@example.com","login":"alice" }"#,
        #"{"iss":"authgate","aud":["other","authgate"],"sub":"u1","sid":"s1","jti":"j1","iat":-5,"nbf":0,"exp":9223372036854775807,"login":"al\"ice","email":"a\/b@x","name":"\u00c5lice \ud83d\ude00 \n\t\\"}"#,
        #"{"iss":"authgate","aud":"authgate","sub":"u1","sid":"s1","jti":"j1","iat":1,"nbf":1,"exp":2,"login":"ålice","email":"","name":"名前","extra":{"a":[1,2.5e-3,true,false,null,{"b":"c"}]},"n":-0.0}"#,
        "{\"\\u0065xp\":2,\"iss\":\"authgate\",\"aud\":\"authgate\",\"sub\":\"u\",\"sid\":\"s\",\"jti\":\"j\",\"iat\":1,\"nbf\":1,\"login\":\"l\",\"email\":\"e\",\"name\":\"n\"}",
    ]

    static let refused: [String] = [
        "", "{", "[]", "null", #"{"exp":1}"#, baseClaims + " x", String(baseClaims.dropLast()),
        baseClaims.replacingOccurrences(of: #""exp":1700000900"#, with: #""exp":1700000900.5"#),
        baseClaims.replacingOccurrences(of: #""exp":1700000900"#, with: #""exp":"1700000900""#),
        baseClaims.replacingOccurrences(of: #""sub":"u1""#, with: #""sub":null"#),
        baseClaims.replacingOccurrences(of: #""sub":"u1""#, with: #""sub":"u\x""#),
        baseClaims.replacingOccurrences(of: #""sub":"u1""#, with: "\"sub\":\"u\u{1}\""),
        baseClaims.replacingOccurrences(of: #""sub":"u1""#, with: #""sub":"\ud800""#),
        baseClaims.replacingOccurrences(of: #""aud":"authgate""#, with: #""aud":[1]"#),
        baseClaims.replacingOccurrences(of: #""exp":1700000900"#, with: #""exp":99999999999999999999"#),
        baseClaims.replacingOccurrences(of: #""extra""#, with: "").replacingOccurrences(of: "}", with: #","x":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"#),
    ]

    func ours(_ json: String) throws(JWTError) -> AccessClaims {
        try Array(json.utf8).withUnsafeBytes { bytes in Result { () throws(JWTError) in try JWTCodec.claims(bytes) } }.get()
    }

    @Test(arguments: accepted)
    func readerAgreesWithJSONDecoder(_ json: String) throws {
        let foundation = try JSONDecoder().decode(AccessClaims.self, from: Data(json.utf8))
        #expect(try ours(json) == foundation)
    }

    @Test(arguments: refused)
    func readerRefusesWhatIsNotAClaimSet(_ json: String) {
        #expect(throws: JWTError.self) { try ours(json) }
    }

    /// Found by scripts/fuzz (jwt): a member name the reader skips held invalid UTF-8 and passed.
    @Test func skippedMemberNamesMustBeValidUTF8() throws {
        func claims(_ name: [UInt8]) -> [UInt8] { [UInt8(ascii: "{")] + name + Array(#":1,"#.utf8) + Array(Self.baseClaims.utf8.dropFirst()) }
        func read(_ json: [UInt8]) throws(JWTError) -> AccessClaims {
            try json.withUnsafeBytes { bytes in Result { () throws(JWTError) in try JWTCodec.claims(bytes) } }.get()
        }
        _ = try read(claims(Array(#""tx""#.utf8)))
        #expect(throws: JWTError.malformed) { try read(claims([0x22, 0x74, 0xFF, 0x9C, 0x22])) }

        let ring = KeyRing.generate()
        func header(_ name: [UInt8]) -> [UInt8] {
            Array(Base64URL.encode(Array(#"{"alg":"HS256","#.utf8) + name + Array(#":"JWT","kid":"\#(ring.activeSigningKeyID)"}"#.utf8)).utf8)
        }
        func signer(_ segment: [UInt8]) throws(JWTError) -> String {
            try segment.withUnsafeBytes { bytes in Result { () throws(JWTError) in try JWTCodec.signer(for: bytes, in: ring).key.id } }.get()
        }
        #expect(try signer(header(Array(#""tx""#.utf8))) == ring.activeSigningKeyID)
        #expect(throws: JWTError.malformed) { try signer(header([0x22, 0x74, 0xFF, 0x9C, 0x22])) }
    }

    @Test func missingExpiryIsNamedAndRepeatedClaimsAreRefused() {
        let noExp = Self.baseClaims.replacingOccurrences(of: #","exp":1700000900"#, with: "")
        #expect(throws: JWTError.missingExpiry) { try ours(noExp) }
        let twice = Self.baseClaims.replacingOccurrences(of: #""sub":"u1""#, with: #""sub":"u1","sub":"admin""#)
        #expect(throws: JWTError.malformed) { try ours(twice) }
    }

    @Test func signatureMustBeExactly32Bytes() throws {
        let keys = KeyRing.generate()
        let codec = JWTCodec(keys: keys, issuer: "authgate", audience: "authgate")
        let now = Date()
        let t = Int64(now.timeIntervalSince1970)
        let token = try codec.sign(AccessClaims(iss: "authgate", aud: "authgate", sub: "u", sid: "s", jti: "j", iat: t, nbf: t, exp: t + 60, login: "l", email: "", name: ""))
        let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let signature = try #require(Base64URL.decode(parts[2]))
        for cut in ["", Base64URL.encode(signature.prefix(31)), Base64URL.encode(signature + [0])] {
            #expect(throws: JWTError.malformed) { try codec.verify(parts[0] + "." + parts[1] + "." + cut, now: now) }
        }
        #expect(try codec.verify(token, now: now).sub == "u")
    }

    @Test func hmacMatchesRFC4231AndTheStartUpSelfTestPasses() throws {
        try HMACSHA256.selfTest()
        // RFC 4231 test case 6: a key longer than the block size.
        let key = try HMACSHA256Key([UInt8](repeating: 0xaa, count: 131))
        #expect(Sodium.hex(try key.authenticate(Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)))
            == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    /// Another library's header (other member order, no typ) is read as JSON and still verifies.
    @Test(.enabled(if: TestPython.isAvailable, Comment(rawValue: TestPython.unavailableReason)))
    func tokensSignedByPyJWTVerify() async throws {
        let keys = KeyRing.generate()
        let script = """
            import jwt, sys, base64, time
            now = int(time.time())
            claims = {"iss": "authgate", "aud": ["authgate"], "sub": "u9", "sid": "s9", "jti": "j9", "iat": now, "nbf": now, "exp": now + 60, "login": "zoë", "email": "z@x", "name": "Zoë"}
            print(jwt.encode(claims, base64.b64decode(sys.argv[1]), algorithm="HS256", headers={"kid": sys.argv[2]}))
            """
        let result = try await TestPython.run(script, [Data(keys.activeSigningKey.material.value).base64EncodedString(), keys.activeSigningKeyID])
        #expect(result.status == 0)
        let token = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let claims = try JWTCodec(keys: keys, issuer: "authgate", audience: "authgate").verify(token)
        #expect(claims.sub == "u9" && claims.login == "zoë" && claims.aud.values == ["authgate"])
    }

    /// The table decoder of JWT segments accepts and refuses exactly what the libsodium decoder
    /// does, on valid encodings of every length and on random near-misses (bytes above 0x7F
    /// included, which libsodium alone would take for alphabet characters).
    @Test func segmentDecoderAgreesWithLibsodium() {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var generator = SystemRandomNumberGenerator()
        for length in 0..<80 {
            let bytes = Sodium.randomBytes(length)
            let text = Array(Base64URL.encode(bytes).utf8)
            #expect(text.withUnsafeBytes { Base64URL.decodeSegment($0) } == bytes)
        }
        for _ in 0..<5000 {
            let length = Int.random(in: 0..<12, using: &generator)
            let text: [UInt8] = (0..<length).map { _ in
                Int.random(in: 0..<10, using: &generator) == 0 ? UInt8.random(in: 0...255, using: &generator) : alphabet.randomElement(using: &generator)!
            }
            let ours = text.withUnsafeBytes { Base64URL.decodeSegment($0) }
            let sodium = text.withUnsafeBytes { Base64URL.decode(bytes: $0) }
            #expect(ours == sodium, "\(text)")
        }
        #expect([UInt8]([183, 66, 122, 113]).withUnsafeBytes { Base64URL.decode(bytes: $0) } == nil)
    }
}
