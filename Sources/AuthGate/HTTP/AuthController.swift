// AuthController: the /auth routes of the contract, translating HTTP to SessionService calls.
public import Hummingbird
import HTTPTypes
import Foundation
import NIOCore

public struct AuthController: Sendable {
    let service: SessionService

    public init(service: SessionService) { self.service = service }

    public func addRoutes(to group: RouterGroup<GatewayContext>) {
        group.post("login", use: login)
        group.post("refresh", use: refresh)
        group.post("logout", use: logout)
        let authenticated = group.group().add(middleware: BearerTokenAuthenticator(service: service))
        authenticated.get("me", use: me)
        authenticated.post("logout-all", use: logoutAll)
        authenticated.get("sessions", use: listSessions)
        authenticated.delete("sessions/{id}", use: deleteSession)
        authenticated.get("verify", use: verify)
        authenticated.head("verify", use: verify)
    }

    // MARK: Handlers

    @Sendable func login(request: Request, context: GatewayContext) async throws -> Response {
        let kind = try RequestBody.mediaKind(request)
        let fields = try RequestBody.fields(try await RequestBody.collect(request), kind: kind)
        guard let username = fields["username"], let password = fields["password"] else {
            throw GatewayError.invalidRequest("username and password are required")
        }
        let issued = try await service.login(
            login: username, password: Secret(password), clientIP: clientIP(request, context),
            userAgent: request.headers[.userAgent] ?? "")
        return tokenResponse(issued)
    }

    @Sendable func refresh(request: Request, context: GatewayContext) async throws -> Response {
        let token: String
        let body = try await RequestBody.collect(request)
        if body.readableBytes > 0 {
            guard try RequestBody.mediaKind(request) == .json else { throw GatewayError.unsupportedMediaType }
            guard let fromBody = try RequestBody.fields(body, kind: .json)["refresh_token"] else {
                throw GatewayError.invalidRequest("refresh_token is required")
            }
            token = fromBody
        } else if let cookie = RefreshCookie.value(in: request) {
            try RefreshCookie.checkCSRF(request, allowedOrigins: service.config.allowedOrigins)
            token = cookie
        } else {
            throw GatewayError.invalidRequest("send refresh_token in a JSON body, or the refresh cookie")
        }
        return tokenResponse(try await service.refresh(refreshToken: token))
    }

    @Sendable func logout(request: Request, context: GatewayContext) async throws -> Response {
        let body = try await RequestBody.collect(request)
        if let header = request.headers[.authorization] {
            // An expired token still ends its session: signature, issuer and audience are checked.
            let claims = try await service.authenticate(bearer: try BearerTokenAuthenticator.token(from: header), ignoringExpiry: true)
            try await service.logout(claims: claims)
        } else if body.readableBytes > 0 {
            guard try RequestBody.mediaKind(request) == .json else { throw GatewayError.unsupportedMediaType }
            guard let token = try RequestBody.fields(body, kind: .json)["refresh_token"] else {
                throw GatewayError.invalidRequest("refresh_token is required")
            }
            try await service.logout(refreshToken: token)
        } else if let cookie = RefreshCookie.value(in: request) {
            try RefreshCookie.checkCSRF(request, allowedOrigins: service.config.allowedOrigins)
            try await service.logout(refreshToken: cookie)
        }
        // Nothing (or nothing live) to end is still a successful logout: idempotent.
        return Response(status: .noContent, headers: [.setCookie: RefreshCookie.clear, .cacheControl: "no-store"])
    }

    @Sendable func me(request: Request, context: GatewayContext) async throws -> Response {
        let claims = try context.requireClaims()
        let session = try await service.session(for: claims)
        let body = #"{"user":\#(session.user.json),"session":\#(Self.sessionJSON(session))}"#
        return json(body)
    }

    @Sendable func logoutAll(request: Request, context: GatewayContext) async throws -> Response {
        let claims = try context.requireClaims()
        try await service.logoutAll(userID: claims.sub)
        return Response(status: .noContent, headers: [.setCookie: RefreshCookie.clear, .cacheControl: "no-store"])
    }

    @Sendable func listSessions(request: Request, context: GatewayContext) async throws -> Response {
        let claims = try context.requireClaims()
        let sessions = try await service.sessions(userID: claims.sub)
        let items = sessions.map { session in
            let base = Self.sessionJSON(session).dropLast()
            return base + #","client_ip":\#(GatewayError.jsonString(session.clientIP)),"user_agent":\#(GatewayError.jsonString(session.userAgent)),"current":\#(session.id == claims.sid)}"#
        }
        return json(#"{"sessions":[\#(items.joined(separator: ","))]}"#)
    }

    @Sendable func deleteSession(request: Request, context: GatewayContext) async throws -> Response {
        let claims = try context.requireClaims()
        let id = try context.parameters.require("id")
        // Only the caller's own sessions: anyone else's is "not found", not "forbidden".
        guard let session = try await service.sessions(userID: claims.sub).first(where: { $0.id == id }) else {
            throw GatewayError.notFound
        }
        try await service.revoke(sessionID: session.id, expiresAt: session.expiresAt)
        return Response(status: .noContent)
    }

    /// For nginx auth_request, Traefik ForwardAuth, Envoy ext_authz: 200 plus identity headers.
    @Sendable func verify(request: Request, context: GatewayContext) async throws -> Response {
        let claims = try context.requireClaims()
        var headers: HTTPFields = [.cacheControl: "no-store"]
        headers[Self.userIDHeader] = Self.headerValue(claims.sub)
        headers[Self.loginHeader] = Self.headerValue(claims.login)
        headers[Self.emailHeader] = Self.headerValue(claims.email)
        headers[Self.nameHeader] = Self.headerValue(claims.name)
        headers[Self.sessionHeader] = Self.headerValue(claims.sid)
        return Response(status: .ok, headers: headers)
    }

    // MARK: Rendering

    static let userIDHeader = HTTPField.Name("X-Authgate-User-Id")!
    static let loginHeader = HTTPField.Name("X-Authgate-Login")!
    static let emailHeader = HTTPField.Name("X-Authgate-Email")!
    static let nameHeader = HTTPField.Name("X-Authgate-Name")!
    static let sessionHeader = HTTPField.Name("X-Authgate-Session")!

    /// Header values cannot carry control characters; anything outside printable ASCII is
    /// percent-encoded so a display name cannot inject or break headers.
    static func headerValue(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            if byte >= 0x20 && byte < 0x7f && byte != UInt8(ascii: "%") {
                out.unicodeScalars.append(UnicodeScalar(byte))
            } else {
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    func tokenResponse(_ issued: IssuedTokens) -> Response {
        Response(
            status: .ok,
            headers: [
                .contentType: "application/json", .cacheControl: "no-store", HTTPField.Name("Pragma")!: "no-cache",
                .setCookie: RefreshCookie.set(issued.refreshToken.value, maxAge: issued.refreshExpiresIn),
            ],
            body: .init(byteBuffer: ByteBuffer(string: issued.json)))
    }

    func json(_ body: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func sessionJSON(_ session: SessionRecord) -> String {
        #"{"id":\#(GatewayError.jsonString(session.id)),"created_at":"\#(rfc3339(session.createdAt))","last_seen_at":"\#(rfc3339(session.lastSeenAt))","expires_at":"\#(rfc3339(session.expiresAt))"}"#
    }

    static func rfc3339(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().dateSeparator(.dash).time(includingFractionalSeconds: false).timeSeparator(.colon).timeZone(separator: .omitted))
    }

    /// The client address: the peer, or the X-Forwarded-For hop a trusted proxy vouches for.
    func clientIP(_ request: Request, _ context: GatewayContext) -> String {
        guard service.config.trustedProxies.contains(context.peerAddress),
            let forwarded = request.headers[.init("X-Forwarded-For")!]
        else { return context.peerAddress }
        let hops = forwarded.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        return hops.last(where: { !service.config.trustedProxies.contains($0) }) ?? context.peerAddress
    }
}
