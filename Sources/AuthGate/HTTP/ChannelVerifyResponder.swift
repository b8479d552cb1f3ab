// ChannelVerifyResponder: answers GET/HEAD /auth/verify for a token that verifies without
// suspending, in the client connection's channel pipeline (ProxyChannelHandler asks it first),
// with the headers the router's VerifyController and middlewares give the same answer. No task,
// no middleware chain: this is the call nginx's auth_request makes for every request it guards.
// Anything else (no token, a refused one with its sign-in hint, a key to reload) goes to the router.
import Dispatch
import HTTPTypes
import Metrics

final class ChannelVerifyResponder: Sendable {
    let verifier: AccessTokenVerifier
    let origins: OriginPolicy
    private let requestMetrics = RequestMetricsCache()

    static let path = "/auth/verify"
    /// What Hummingbird's responder puts in `Server` (Application's `serverName`).
    static let serverName = "authgate"

    init(verifier: AccessTokenVerifier, origins: OriginPolicy) {
        self.verifier = verifier
        self.origins = origins
    }

    /// The 200 answer for `request`, or nil when the router should answer it.
    func answer(_ request: HTTPRequest) -> HTTPResponse? {
        guard request.method == .get || request.method == .head, let target = request.path,
            target.utf8.starts(with: Self.path.utf8),
            target.utf8.count == Self.path.utf8.count || target.utf8.dropFirst(Self.path.utf8.count).first == UInt8(ascii: "?")
        else { return nil }
        let start = DispatchTime.now().uptimeNanoseconds
        let fields = request.headerFields
        guard let header = fields[.authorization], let token = try? BearerTokenAuthenticator.token(from: header),
            let claims = verifier.verifiedNow(token)
        else { return nil }
        var headers: HTTPFields = [.cacheControl: "no-store"]
        IdentityHeaders.set(claims, in: &headers)
        headers[.contentLength] = "0"
        ErrorMiddleware.addSecurityHeaders(&headers)
        CORSMiddleware.decorate(&headers, allowedOrigin: fields[.origin].flatMap { origins.isListed($0) ? $0 : nil })
        headers[RequestIDMiddleware.header] =
            fields[RequestIDMiddleware.header].flatMap { RequestIDMiddleware.isAcceptable($0) ? $0 : nil } ?? RequestIDMiddleware.generate()
        headers[.date] = HTTPDate.now()
        headers[.server] = Self.serverName
        let metrics = requestMetrics.metrics(endpoint: Self.path, method: request.method, status: .ok)
        metrics.requests.increment()
        metrics.duration.recordNanoseconds(DispatchTime.now().uptimeNanoseconds - start)
        return HTTPResponse(status: .ok, headerFields: headers)
    }
}
