// WireFormatTests: the bytes of every wire shape, pinned (field order as the contract lists
// them), and the wire encoder checked against Foundation's JSONEncoder on the same values.
@testable import AuthGate
import Foundation
import Testing

@Suite struct WireFormatTests {
    static let when = Date(timeIntervalSince1970: 1_780_000_000)  // 2026-05-28T20:26:40Z
    static let user = UserProfile(id: "42", login: "alice", email: "alice@example.com", name: "Alice \"A\" / Ω", upstreamID: .number(42))
    static let session = SessionRecord(
        id: "s1", user: user, provider: "shotgrid", upstream: nil, refreshTokens: [], createdAt: when, lastSeenAt: when,
        idleExpiresAt: when.addingTimeInterval(60), expiresAt: when.addingTimeInterval(3600), clientIP: "10.0.0.1", userAgent: "curl/8")

    func text(_ value: some Encodable) throws -> String { try WireJSONEncoder().encodeToString(value) }

    @Test func tokenResponseListsTheContractFieldsInOrder() throws {
        let issued = IssuedTokens(accessToken: "a.b.c", expiresIn: 900, refreshToken: Secret("r"), refreshExpiresIn: 60, session: Self.session)
        #expect(try text(TokenResponse(issued, includeRefreshToken: true)) == """
            {"access_token":"a.b.c","token_type":"Bearer","expires_in":900,"refresh_token":"r","refresh_expires_in":60,\
            "session_id":"s1","user":{"id":"42","login":"alice","email":"alice@example.com","name":"Alice \\"A\\" / Ω","upstream_id":42}}
            """)
        // A cookie refresh leaves the refresh token out entirely (no null).
        #expect(try !text(TokenResponse(issued, includeRefreshToken: false)).contains("refresh_token\""))
    }

    @Test func meSessionsErrorsAndReadinessArePinned() throws {
        #expect(try text(MeResponse(user: Self.user, session: SessionSummary(Self.session))).hasSuffix("""
            "session":{"id":"s1","created_at":"2026-05-28T20:26:40Z","last_seen_at":"2026-05-28T20:26:40Z","expires_at":"2026-05-28T21:26:40Z"}}
            """))
        #expect(try text(OwnSessionsResponse([Self.session], current: "s1")) == """
            {"sessions":[{"id":"s1","created_at":"2026-05-28T20:26:40Z","last_seen_at":"2026-05-28T20:26:40Z",\
            "expires_at":"2026-05-28T21:26:40Z","client_ip":"10.0.0.1","user_agent":"curl/8","current":true}]}
            """)
        #expect(try text(APIError.Body(error: "invalid_grant", error_description: "no")) == #"{"error":"invalid_grant","error_description":"no"}"#)
        #expect(try text(ReadinessResponse(status: "degraded", failing: ["store", "provider"])) == #"{"status":"degraded","checks":{"store":"failing","provider":"failing"}}"#)
        #expect(try text(ReadinessResponse(status: "ok", failing: [])) == #"{"status":"ok","checks":{}}"#)
        let local = UserProfile(id: "u1", login: "bob", email: "", name: "Bob", upstreamID: .string("u1"))
        #expect(try text(SessionListing(SessionRecord(
            id: "s2", user: local, provider: "local", upstream: nil, refreshTokens: [], createdAt: Self.when, lastSeenAt: Self.when,
            idleExpiresAt: Self.when, expiresAt: Self.when, clientIP: "::1", userAgent: ""))) == """
            {"id":"s2","user":{"id":"u1","login":"bob","email":"","name":"Bob","upstream_id":"u1"},"created_at":"2026-05-28T20:26:40Z",\
            "last_seen_at":"2026-05-28T20:26:40Z","expires_at":"2026-05-28T20:26:40Z","client_ip":"::1","user_agent":""}
            """)
    }

    struct Sample: Codable, Equatable {
        var text: String
        var number: Int64
        var fraction: Double
        var flag: Bool
        var missing: String?
        var list: [String]
        var nested: [String: [Int]]
    }

    /// Same values, same JSON: parsed back, the wire encoder's and Foundation's output are equal,
    /// and both decode to the original.
    @Test(arguments: [
        Sample(text: "", number: 0, fraction: 0.5, flag: false, missing: nil, list: [], nested: [:]),
        Sample(text: "quote \" backslash \\ slash / tab \t newline \n bell \u{7} nul \u{0} é 😀", number: -9_007_199_254_740_993,
               fraction: -1.25e-7, flag: true, missing: "here", list: ["a", "", "ü"], nested: ["k": [1, -2, 3], "e": []]),
    ])
    func wireEncoderAgreesWithFoundation(_ sample: Sample) throws {
        let ours = try WireJSONEncoder().encode(sample)
        let foundation = try JSONEncoder().encode(sample)
        let parsedOurs = try JSONSerialization.jsonObject(with: Data(ours)) as? NSDictionary
        let parsedFoundation = try JSONSerialization.jsonObject(with: foundation) as? NSDictionary
        #expect(parsedOurs == parsedFoundation)
        #expect(try JSONDecoder().decode(Sample.self, from: Data(ours)) == sample)
        // Pretty output (the CLI's) is the same JSON.
        #expect(try JSONDecoder().decode(Sample.self, from: Data(WireJSONEncoder(prettyPrinted: true).encode(sample))) == sample)
    }

    @Test func nonFiniteNumbersAreRefused() {
        #expect(throws: EncodingError.self) { try WireJSONEncoder().encode([Double.nan]) }
        #expect(throws: EncodingError.self) { try WireJSONEncoder().encode(["x": Double.infinity]) }
    }

    @Test func timestampsAreRFC3339UTCInWholeSeconds() {
        #expect(RFC3339.format(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00Z")
        #expect(RFC3339.format(Date(timeIntervalSince1970: 1_780_000_000.999)) == "2026-05-28T20:26:40Z")
        #expect(RFC3339.format(Date(timeIntervalSince1970: -1)) == "1969-12-31T23:59:59Z")
    }
}
