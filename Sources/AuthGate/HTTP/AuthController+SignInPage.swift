// AuthController+SignInPage: the browser side of /auth/login and /auth/logout: the pages, and
// their form posts answered with a redirect or the page again, never with JSON.
import Foundation
import Hummingbird
import HTTPTypes
import Logging

extension AuthController {
    @Sendable func signInPage(request: Request, context: GatewayContext) async throws -> Response {
        let query = request.uri.queryParameters
        let rd = query["rd"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        let notice: SignInPage.Notice? = query["signed_out"] == "1" ? .info(SignInPage.signedOut) : nil
        return SignInPage.response(SignInPage.signIn(rd: rd, notice: notice), origins: origins)
    }

    @Sendable func signOutPage(request: Request, context: GatewayContext) async throws -> Response {
        SignInPage.response(SignInPage.signOut(), origins: origins)
    }

    /// The sign-in form: on success the refresh cookie and a 303 to `rd` (when it is safe to
    /// follow, else `/`); on failure the page again, with one message for an unknown user and a
    /// wrong password alike, and the status a script would have seen.
    func signInFormPost(_ form: PageForm, foreignOrigin: Bool, request: Request, context: GatewayContext) async -> Response {
        let username = form.username ?? ""
        let rd = form.rd.flatMap { $0.isEmpty ? nil : $0 }
        func page(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) -> Response {
            SignInPage.response(
                SignInPage.signIn(username: username, rd: rd, notice: .error(message)), status: status, origins: origins, headers: headers)
        }
        if foreignOrigin { return page(.forbidden, SignInPage.foreignOrigin) }
        guard let password = form.password, !password.isEmpty, !username.trimmingCharacters(in: .whitespaces).isEmpty else {
            return page(.badRequest, SignInPage.missingFields)
        }
        let client = clientAddress.resolve(peer: context.peerAddress, headers: request.headers)
        do {
            let issued = try await login.login(
                login: username, password: Secret(password), clientIP: client?.description ?? "unknown",
                userAgent: request.headers[.userAgent] ?? "")
            return SignInPage.seeOther(
                RedirectTarget.resolve(rd, request: request, origins: origins),
                headers: [.setCookie: RefreshCookie.set(issued.refreshToken.value, maxAge: issued.refreshExpiresIn)])
        } catch {
            switch error {
            case .invalidGrant:
                return page(.unauthorized, SignInPage.wrongCredentials)
            case .invalidRequest:
                return page(.badRequest, SignInPage.missingFields)
            case .rateLimited(let seconds):
                let wait = max(seconds, 1)
                return page(.tooManyRequests, SignInPage.tooManyAttempts(retryAfter: wait), headers: [.retryAfter: String(wait)])
            case .storeUnavailable, .upstreamUnavailable, .overloaded:
                return page(.serviceUnavailable, SignInPage.unavailable, headers: [.retryAfter: "1"])
            case .accessDenied, .invalidToken, .notFound, .serverError:
                // Not answers a login gives today; should one appear, it is still no sign-in.
                let status = APIError(error).status
                return page(status, status == .forbidden ? SignInPage.foreignOrigin : SignInPage.wrongCredentials)
            }
        }
    }

    /// The sign-out form: a form cannot send `X-Authgate-CSRF`, so it must carry an Origin we
    /// trust (browsers send one on every form post). Ends the cookie's session, clears the cookie,
    /// and goes back to the sign-in page.
    func signOutFormPost(request: Request, context: GatewayContext) async -> Response {
        guard let origin = request.headers[.origin], origins.isAllowed(origin, request: request) else {
            return SignInPage.response(SignInPage.signOut(notice: .error(SignInPage.foreignOrigin)), status: .forbidden, origins: origins)
        }
        if let cookie = RefreshCookie.value(in: request) {
            do {
                try await directory.logout(refreshToken: cookie)
            } catch {
                context.logger.warning("sign-out failed", metadata: ["error": "\(error)"])
                return SignInPage.response(
                    SignInPage.signOut(notice: .error(SignInPage.unavailable)), status: .serviceUnavailable, origins: origins,
                    headers: [.retryAfter: "1"])
            }
        }
        return SignInPage.seeOther("/auth/login?signed_out=1", headers: [.setCookie: RefreshCookie.clear])
    }
}

extension PageForm {
    /// The form fields of a collected body; nil when it is no form at all.
    static func decode(_ bytes: ByteBuffer) -> PageForm? {
        try? GatewayRequestDecoder().decode(PageForm.self, from: bytes, kind: .form)
    }
}
