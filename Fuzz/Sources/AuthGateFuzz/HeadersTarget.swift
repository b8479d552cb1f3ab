// HeadersTarget: what the gateway reads from request headers: the Bearer token of
// Authorization, the refresh cookie and its CSRF/Origin rules, X-Request-Id, and what the
// reverse proxy passes on (identity headers, hop-by-hop, the refresh cookie stripped).
@testable import AuthGate
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

enum HeadersTarget {
    static func run(_ input: FuzzInput) {
        var input = input
        switch input.choice(5) {
        case 0: authorization(input.restText())
        case 1: cookies(&input)
        case 2: requestID(input.restText())
        case 3: forwarded(&input)
        default: identityValue(input.restText())
        }
    }

    static func authorization(_ header: String) {
        guard let token = try? BearerTokenAuthenticator.token(from: header) else { return }
        let blanks: Set<UInt8> = [0x20, 0x09]
        expect(!token.isEmpty, "empty token accepted")
        expect(!blanks.contains(token.utf8.first!) && !blanks.contains(token.utf8.last!), "token keeps surrounding blanks")
        expect(header.utf8.count > 7 && header.utf8.prefix(7).map { $0 | 0x20 } == Array("bearer ".utf8), "token without the Bearer scheme")
        var rest = Array(header.utf8.dropFirst(7))[...]
        while let first = rest.first, blanks.contains(first) { rest = rest.dropFirst() }
        while let last = rest.last, blanks.contains(last) { rest = rest.dropLast() }
        expect(rest.elementsEqual(token.utf8), "token is not the header's credential")
    }

    /// Header lines as the HTTP parser gives them: "name: value" lines, lenient values.
    static func fields(_ input: inout FuzzInput, limit: Int = 16) -> HTTPFields {
        var fields = HTTPFields()
        while !input.isEmpty, fields.count < limit {
            let line = input.field(separator: UInt8(ascii: "\n"))
            let colon = line.firstIndex(of: UInt8(ascii: ":")) ?? line.endIndex
            guard let name = HTTPField.Name(String(decoding: line[..<colon], as: UTF8.self)) else { continue }
            var value = line[colon...].dropFirst()
            while value.first == 0x20 { value = value.dropFirst() }
            fields.append(HTTPField(name: name, lenientValue: value))
        }
        return fields
    }

    static func request(_ fields: HTTPFields, authority: String? = "gw.example") -> Request {
        Request(
            head: HTTPRequest(method: .post, scheme: "http", authority: authority, path: "/auth/refresh", headerFields: fields),
            body: .init(buffer: ByteBuffer()))
    }

    static let origins = OriginPolicy(allowedOrigins: ["https://app.example"])

    static func cookies(_ input: inout FuzzInput) {
        let authority: String? = input.bool() ? "gw.example" : nil
        let fields = fields(&input)
        let request = request(fields, authority: authority)
        for name in ["authgate_refresh", "", "a"] { _ = request.cookies[name]?.value }
        if let value = RefreshCookie.value(in: request) {
            expect(!value.isEmpty, "empty refresh cookie taken")
            expect(fields[values: .cookie].contains { $0.contains(value) }, "refresh cookie value not from a Cookie header")
        }
        do {
            try RefreshCookie.checkCSRF(request, origins: origins)
            expect(fields[values: RefreshCookie.csrfHeader].first == "1", "CSRF check passed without X-Authgate-CSRF: 1")
            if let origin = fields[.origin] {
                expect(
                    origin == "https://app.example" || (authority != nil && (origin == "http://gw.example" || origin == "https://gw.example")),
                    "CSRF check passed with a foreign Origin")
            }
        } catch {
            guard case .accessDenied = error else { fatalError("CSRF check threw \(error)") }
        }
        for value in fields[values: .cookie] {
            let kept = ForwardedHeaders.withoutRefreshCookie(value)
            expect(kept.map { !hasRefreshCookie($0) } ?? true, "refresh cookie left in a forwarded Cookie: \(value.debugDescription)")
            expect(kept?.isEmpty != true, "an empty Cookie header kept")
        }
    }

    /// Whether a Cookie value, as it goes out (HTTPTypes legalises it), carries the refresh
    /// cookie for an upstream that splits on bytes and trims blanks, as most cookie parsers do.
    static func hasRefreshCookie(_ value: String) -> Bool {
        let legal = HTTPField(name: .cookie, value: value).value
        return legal.utf8.split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: false).contains { pair in
            let name = pair.prefix { $0 != UInt8(ascii: "=") }
            return String(decoding: name, as: UTF8.self).trimmingCharacters(in: .whitespaces) == "authgate_refresh"
        }
    }

    static func requestID(_ id: String) {
        guard RequestIDMiddleware.isAcceptable(id) else { return }
        expect((1...128).contains(id.utf8.count) && id.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7f }, "request id accepted with bad bytes")
        expect(HTTPField.isValidValue(id), "accepted request id is not a valid header value")
    }

    static let claims = AccessClaims(
        iss: "authgate", aud: "authgate", sub: "user-1", sid: "sid-1", jti: "jti-1", iat: 0, nbf: 0, exp: 900, login: "alice",
        email: "alice@example.com", name: "Alice")

    static func forwarded(_ input: inout FuzzInput) {
        let trusted = input.bool()
        let authorization: String? = input.bool() ? "Bearer internal" : nil
        let incoming = fields(&input, limit: 32)
        let client = ForwardedHeaders.Client(peer: "192.0.2.1", peerIsTrusted: trusted, authority: "gw.example")
        let outgoing = ForwardedHeaders.toUpstream(incoming, claims: claims, client: client, authorization: authorization)
        let listed = ForwardedHeaders.connectionListed(incoming)
        for field in outgoing {
            let name = field.name.canonicalName
            // Headers the gateway sets itself stay, whatever the client's Connection lists.
            let setByGateway = name.hasPrefix(IdentityHeaders.prefix) || name.hasPrefix("x-forwarded-") || name == "authorization"
            expect(!ForwardedHeaders.hopByHop.contains(name) && (setByGateway || !listed.contains(name)), "hop-by-hop header \(name) forwarded")
            expect(!ForwardedHeaders.framing.contains(name), "framing header \(name) forwarded")
            if name.hasPrefix(IdentityHeaders.prefix) { expect(field.value == expectedIdentity(field.name), "a client identity header crossed") }
            if field.name == .cookie { expect(!hasRefreshCookie(field.value), "refresh cookie forwarded: \(field.value.debugDescription)") }
        }
        expect(outgoing[values: .authorization] == (authorization.map { [$0] } ?? []), "Authorization not replaced")
        expect(outgoing[IdentityHeaders.login] == "alice" && outgoing[values: IdentityHeaders.userID] == ["user-1"], "identity headers not set")
        expect(outgoing[values: ForwardedHeaders.forwardedFor].count == 1, "X-Forwarded-For not one header")
        expect(outgoing[ForwardedHeaders.forwardedFor]?.hasSuffix("192.0.2.1") == true, "peer not last in X-Forwarded-For")
        let back = ForwardedHeaders.toClient(incoming)
        for field in back { expect(!ForwardedHeaders.hopByHop.contains(field.name.canonicalName), "hop-by-hop header sent back") }
    }

    static func expectedIdentity(_ name: HTTPField.Name) -> String? {
        switch name {
        case IdentityHeaders.userID: "user-1"
        case IdentityHeaders.login: "alice"
        case IdentityHeaders.email: "alice@example.com"
        case IdentityHeaders.name: "Alice"
        case IdentityHeaders.session: "sid-1"
        default: nil
        }
    }

    /// Identity header values are printable ASCII (no header injection) and decode back to the claim.
    static func identityValue(_ text: String) {
        let value = IdentityHeaders.value(text)
        expect(value.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7f }, "identity header value with control or non-ASCII bytes")
        // Leading or trailing spaces stay (HTTPTypes trims them on the wire): harmless, not checked.
        var decoded: [UInt8] = []
        var bytes = value.utf8.makeIterator()
        while let byte = bytes.next() {
            if byte == UInt8(ascii: "%"), let high = bytes.next(), let low = bytes.next(),
                let number = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            {
                decoded.append(number)
            } else {
                decoded.append(byte)
            }
        }
        expect(decoded == Array(text.utf8), "identity header value does not decode back to the claim")
    }
}
