// AuthController: the /auth routes of the contract: HTTP in, the session flows, HTTP out.
public import Hummingbird
import HTTPTypes
import Foundation

public struct AuthController: Sendable {
    let login: LoginFlow
    let refresh: RefreshFlow
    let directory: SessionDirectory
    let verifier: AccessTokenVerifier
    let origins: OriginPolicy
    let clientAddress: ClientAddress

    public init(
        login: LoginFlow, refresh: RefreshFlow, directory: SessionDirectory, verifier: AccessTokenVerifier, origins: OriginPolicy,
        clientAddress: ClientAddress
    ) {
        self.login = login
        self.refresh = refresh
        self.directory = directory
        self.verifier = verifier
        self.origins = origins
        self.clientAddress = clientAddress
    }

    public func addRoutes(to auth: RouterGroup<GatewayContext>) {
        let group = auth.group().add(middleware: ClientScopeMiddleware(clientAddress: clientAddress))
        group.get("login", use: signInPage)
        group.get("logout", use: signOutPage)
        group.post("login", use: login)
        group.post("refresh", use: refresh)
        group.post("logout", use: logout)
        let authenticated = group.group().add(middleware: BearerTokenAuthenticator(verifier: verifier))
        authenticated.get("me", use: me)
        authenticated.post("logout-all", use: logoutAll)
        authenticated.get("sessions", use: listSessions)
        authenticated.delete("sessions/{id}", use: deleteSession)
    }

    // MARK: Handlers

    @Sendable func login(request: Request, context: GatewayContext) async throws -> Response {
        // A browser login from a foreign page would sign the victim into someone else's account.
        let foreign = request.headers[.origin].map { !origins.isAllowed($0, request: request) } ?? false
        let kind = try? GatewayRequestDecoder.mediaKind(request)
        // Only the page's own (form) post needs its body read to answer a foreign origin.
        if foreign && kind != .form { throw SessionError.accessDenied("origin not allowed") }
        guard let kind else { throw APIError.unsupportedMediaType }
        let bytes = try await GatewayRequestDecoder.collect(request)
        // The sign-in page's own post gets HTML back; every other client the contract's JSON.
        if kind == .form, let form = PageForm.decode(bytes), form.page == SignInPage.signInPage {
            return await signInFormPost(form, foreignOrigin: foreign, request: request, context: context)
        }
        if foreign { throw SessionError.accessDenied("origin not allowed") }
        let body = try GatewayRequestDecoder().decode(LoginRequest.self, from: bytes, kind: kind)
        let client = clientAddress.resolve(peer: context.peerAddress, headers: request.headers)
        let issued = try await login.login(
            login: body.username, password: Secret(body.password), clientIP: client?.description ?? "unknown",
            userAgent: request.headers[.userAgent] ?? "")
        return try tokenResponse(issued, includeRefreshToken: true, request: request, context: context)
    }

    @Sendable func refresh(request: Request, context: GatewayContext) async throws -> Response {
        let body = try await GatewayRequestDecoder.collect(request)
        if body.readableBytes > 0 {
            guard try GatewayRequestDecoder.mediaKind(request) == .json else { throw APIError.unsupportedMediaType }
            let token = try GatewayRequestDecoder().decode(RefreshTokenRequest.self, from: body, kind: .json).refresh_token
            return try tokenResponse(try await refresh.refresh(refreshToken: token), includeRefreshToken: true, request: request, context: context)
        }
        guard let cookie = RefreshCookie.value(in: request) else {
            throw SessionError.invalidRequest("send refresh_token in a JSON body, or the refresh cookie")
        }
        try RefreshCookie.checkCSRF(request, origins: origins)
        // The cookie carries the new token; page scripts never see it.
        return try tokenResponse(try await refresh.refresh(refreshToken: cookie), includeRefreshToken: false, request: request, context: context)
    }

    @Sendable func logout(request: Request, context: GatewayContext) async throws -> Response {
        let body = try await GatewayRequestDecoder.collect(request)
        if let header = request.headers[.authorization] {
            // An expired token still ends its session: signature, issuer and audience are checked.
            let claims = try await verifier.verify(try BearerTokenAuthenticator.token(from: header), ignoringExpiry: true)
            try await directory.logout(claims: claims)
        } else if body.readableBytes > 0 {
            let kind = try GatewayRequestDecoder.mediaKind(request)
            if kind == .form, PageForm.decode(body)?.page == SignInPage.signOutPage {
                return await signOutFormPost(request: request, context: context)
            }
            guard kind == .json else { throw APIError.unsupportedMediaType }
            let token = try GatewayRequestDecoder().decode(RefreshTokenRequest.self, from: body, kind: .json).refresh_token
            try await directory.logout(refreshToken: token)
        } else if let cookie = RefreshCookie.value(in: request) {
            try RefreshCookie.checkCSRF(request, origins: origins)
            try await directory.logout(refreshToken: cookie)
        }
        // Nothing (or nothing live) to end is still a successful logout: idempotent.
        return Self.loggedOut
    }

    @Sendable func me(request: Request, context: GatewayContext) async throws -> MeResponse {
        let claims = try context.requireClaims()
        let session = try await directory.session(for: claims)
        return MeResponse(user: session.user, session: SessionSummary(id: claims.sid, session))
    }

    @Sendable func logoutAll(request: Request, context: GatewayContext) async throws -> Response {
        try await directory.logoutAll(userID: try context.requireClaims().sub)
        return Self.loggedOut
    }

    @Sendable func listSessions(request: Request, context: GatewayContext) async throws -> OwnSessionsResponse {
        let claims = try context.requireClaims()
        return OwnSessionsResponse(try await directory.sessions(userID: claims.sub), current: claims.sid)
    }

    @Sendable func deleteSession(request: Request, context: GatewayContext) async throws -> HTTPResponse.Status {
        try await directory.revoke(sessionID: try context.parameters.require("id"), ownedBy: try context.requireClaims().sub)
        return .noContent
    }

    // MARK: Rendering

    static var loggedOut: Response {
        Response(status: .noContent, headers: [.setCookie: RefreshCookie.clear, .cacheControl: "no-store"])
    }

    func tokenResponse(_ issued: IssuedTokens, includeRefreshToken: Bool, request: Request, context: GatewayContext) throws -> Response {
        var response = try TokenResponse(issued, includeRefreshToken: includeRefreshToken).response(from: request, context: context)
        response.headers[Self.pragma] = "no-cache"
        response.headers[.setCookie] = RefreshCookie.set(issued.refreshToken.value, maxAge: issued.refreshExpiresIn)
        return response
    }

    static let pragma = HTTPField.Name("Pragma")!
}

extension TokenResponse: ResponseEncodable {}
extension MeResponse: ResponseEncodable {}
extension OwnSessionsResponse: ResponseEncodable {}
