// FakeShotGrid — an in-process fake of Autodesk ShotGrid (Flow Production Tracking)
// REST API v1, for tests. It is a real HTTP/1.1 server (Hummingbird 2) bound to
// 127.0.0.1 on a free port.
//
// What the answers are based on. "Confirmed" means copied from responses recorded from
// a real ShotGrid site (VCR cassettes in github.com/shotgunsoftware/shotgrid_api_ruby,
// spec/fixtures/vcr_cassettes/..., recorded June 2021) or from Autodesk's own client code:
//
//   • POST /api/v1/auth/access_token, Content-Type application/x-www-form-urlencoded,
//     grant_type=password with username/password, grant_type=refresh_token with
//     refresh_token (also client_credentials and session_token, not faked here).
//     Autodesk's clients send the parameters in the query string with an empty body
//     (shotgrid_api_ruby lib/shotgrid_api_ruby/auth.rb, shotgun-nodejs src/client.js),
//     others in the form body (shotgun-rs `.form(...)`), so both are accepted here and
//     merged, body winning. CONFIRMED.
//   • Success: 200, `application/json; charset=utf-8`,
//     {"token_type":"Bearer","access_token":"…","expires_in":600,"refresh_token":"…"}
//     (cassette ShotgridApiRuby_Auth/1_2/with_username_and_password/connects.yml). CONFIRMED,
//     including the key order and the default lifetime of 600 s.
//   • Error body: {"errors":[{"id":"<32 hex>","status":400,"code":103,"title":"…",
//     "source":{…}|null,"detail":"…"|null,"meta":null}]}, status mirrored in the HTTP
//     status (cassettes …/all/when_there_s_an_error (400, code 103, a filter on a field that
//     does not exist) and …/find/when_the_entity_does_not_exist (404, code 104,
//     title "Not Found", detail "Asset: 400000 not found")). CONFIRMED.
//   • Entity reads: {"data":[{"type":"HumanUser","attributes":{…only the requested
//     fields…},"relationships":{},"id":42,"links":{"self":"/api/v1/entity/human_users/42"}}],
//     "links":{"self":"<request path and query>"}}; `id` is always returned, outside
//     `attributes`; `relationships` is `{}` when no entity fields are requested
//     (cassettes …/find/when_the_fields_are_specified/only_returns_specified_fields.yml,
//     …/all/filter/properly_filters.yml: `?fields=…&filter%5Bcode%5D=Alice`). CONFIRMED.
//   • Code 102 is ShotGrid's error code for "authentication related problems" (ERR_AUTH = 102
//     in shotgun_api3's _response_errors). CONFIRMED for API3 only.
//
// NOT confirmed (no recorded real answer found; chosen to be plausible, keep in mind):
//   • wrong username/password, unknown refresh token → HTTP 400, code 102,
//     title "Can't authenticate user.", detail null (status 400 follows RFC 6749 §5.2);
//   • missing/invalid bearer token on entity reads → HTTP 401, code 102, title "Unauthorized";
//   • malformed token request (missing field, bad grant_type, wrong content type) → 400, code 103;
//   • unknown path → 404, code 104, title "Not Found"; serverError → 500, code 100;
//   • filter values are compared case-sensitively; a comma-separated value means "any of".
//
// Only what authgate needs is faked: the token endpoint and HumanUser reads
// (`/api/v1/entity/human_users` or `/api/v1/entity/HumanUser`, list form, simple
// `filter[field]=value` filters on login, email, name, sg_status_list and id).
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

public final class FakeShotGrid: Sendable {

    public struct User: Sendable {
        public var id: Int
        public var login: String
        public var password: String
        public var email: String
        public var name: String
        /// ShotGrid `sg_status_list`: "act" (active) or "dis" (disabled).
        public var status: String

        public init(id: Int, login: String, password: String, email: String, name: String, status: String = "act") {
            self.id = id
            self.login = login
            self.password = password
            self.email = email
            self.name = name
            self.status = status
        }
    }

    public enum Behaviour: Sendable, Equatable {
        /// Answer like ShotGrid.
        case normal
        /// Every request answers 500 with an errors[] body.
        case serverError
        /// Sleep this long before answering normally.
        case slow(seconds: Double)
        /// Close the connection without answering.
        case dropConnections
    }

    // MARK: State

    private struct AccessGrant {
        var login: String
        var expiresAt: ContinuousClock.Instant
    }

    private struct State {
        var users: [User]
        var behaviour: Behaviour = .normal
        var accessTokenLifetime: Int
        var accessTokens: [String: AccessGrant] = [:]
        var refreshTokens: [String: String] = [:]  // refresh token → login
        var issuedAccessTokens: [String] = []
        var issuedRefreshTokens: [String] = []
        var passwordGrants = 0
        var refreshGrants = 0
        var identityLookups = 0

        mutating func issueTokens(login: String) -> (access: String, refresh: String, expiresIn: Int) {
            let access = FakeShotGrid.randomToken()
            let refresh = FakeShotGrid.randomToken()
            let lifetime = self.accessTokenLifetime
            self.accessTokens[access] = AccessGrant(login: login, expiresAt: .now.advanced(by: .seconds(lifetime)))
            self.refreshTokens[refresh] = login
            self.issuedAccessTokens.append(access)
            self.issuedRefreshTokens.append(refresh)
            return (access, refresh, lifetime)
        }
    }

    private struct Lifecycle {
        var port = 0
        var running = false
        var group: ServiceGroup?
        var task: Task<Void, Never>?
    }

    private let state: Mutex<State>
    private let lifecycle = Mutex(Lifecycle())

    public init(users: [User], accessTokenLifetime: Int = 600) {
        self.state = Mutex(State(users: users, accessTokenLifetime: accessTokenLifetime))
    }

    // MARK: Lifecycle

    /// Binds 127.0.0.1 on a free port and returns once the server is listening.
    /// Throws if the server could not start within 10 seconds. Calling it again while
    /// running does nothing.
    public func start() async throws {
        let alreadyRunning = self.lifecycle.withLock { lifecycle -> Bool in
            if lifecycle.running { return true }
            lifecycle.running = true
            return false
        }
        if alreadyRunning { return }

        var logger = Logger(label: "FakeShotGrid")
        logger.logLevel = .critical

        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        let failure = Mutex<String?>(nil)

        let router = Router(context: FakeShotGridRequestContext.self)
        router.add(middleware: FakeShotGridMiddleware(server: self))
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "FakeShotGrid"),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            },
            logger: logger
        )
        var configuration = ServiceGroupConfiguration(services: [app], logger: logger)
        configuration.maximumGracefulShutdownDuration = .seconds(5)
        configuration.maximumCancellationDuration = .seconds(5)
        let group = ServiceGroup(configuration: configuration)
        let task = Task {
            do {
                try await group.run()
            } catch {
                failure.withLock { $0 = String(describing: error) }
            }
            portContinuation.finish()
        }
        self.lifecycle.withLock {
            $0.group = group
            $0.task = task
        }

        let port: Int? = try await withThrowingTaskGroup(of: Int?.self) { waiters in
            waiters.addTask {
                for await port in ports { return port }
                return nil
            }
            waiters.addTask {
                try await Task.sleep(for: .seconds(10))
                throw FakeShotGridError.didNotStart("the server was not listening after 10 s")
            }
            defer { waiters.cancelAll() }
            return try await waiters.next() ?? nil
        }
        guard let port, port > 0 else {
            await self.stop()
            throw FakeShotGridError.didNotStart(failure.withLock { $0 } ?? "the server stopped before listening")
        }
        self.lifecycle.withLock { $0.port = port }
    }

    /// "http://127.0.0.1:PORT" (valid after `start()`).
    public var baseURL: String { "http://127.0.0.1:\(self.port)" }

    public var port: Int { self.lifecycle.withLock { $0.port } }

    /// Graceful shutdown; waits until the server has stopped. Idempotent.
    public func stop() async {
        let (group, task) = self.lifecycle.withLock { lifecycle -> (ServiceGroup?, Task<Void, Never>?) in
            defer {
                lifecycle.group = nil
                lifecycle.task = nil
                lifecycle.running = false
            }
            return (lifecycle.group, lifecycle.task)
        }
        if let group { await group.triggerGracefulShutdown() }
        if let task { await task.value }
    }

    // MARK: Knobs

    public var behaviour: Behaviour {
        get { self.state.withLock { $0.behaviour } }
        set { self.state.withLock { $0.behaviour = newValue } }
    }

    /// Lifetime in seconds of access tokens issued from now on (`expires_in`).
    public var accessTokenLifetime: Int {
        get { self.state.withLock { $0.accessTokenLifetime } }
        set { self.state.withLock { $0.accessTokenLifetime = newValue } }
    }

    public func setUserStatus(login: String, status: String) {
        self.state.withLock { state in
            for index in state.users.indices where state.users[index].login == login {
                state.users[index].status = status
            }
        }
    }

    public func setPassword(login: String, password: String) {
        self.state.withLock { state in
            for index in state.users.indices where state.users[index].login == login {
                state.users[index].password = password
            }
        }
    }

    // MARK: Observations

    /// Token requests received with grant_type=password (whatever the answer, behaviour included).
    public var passwordGrants: Int { self.state.withLock { $0.passwordGrants } }
    /// Token requests received with grant_type=refresh_token (whatever the answer).
    public var refreshGrants: Int { self.state.withLock { $0.refreshGrants } }
    /// Requests received on the HumanUser entity endpoint (whatever the answer).
    public var identityLookups: Int { self.state.withLock { $0.identityLookups } }
    /// Every access token ever issued, oldest first (revoked and expired ones included).
    public var issuedAccessTokens: [String] { self.state.withLock { $0.issuedAccessTokens } }
    /// Every refresh token ever issued, oldest first (used and revoked ones included).
    public var issuedRefreshTokens: [String] { self.state.withLock { $0.issuedRefreshTokens } }

    /// Invalidates every access and refresh token issued so far.
    public func revokeAllTokens() {
        self.state.withLock { state in
            state.accessTokens.removeAll()
            state.refreshTokens.removeAll()
        }
    }

    /// Makes every access token issued so far expired (refresh tokens stay valid).
    public func expireAccessTokens() {
        self.state.withLock { state in
            let past = ContinuousClock.now.advanced(by: .seconds(-1))
            for token in state.accessTokens.keys {
                state.accessTokens[token]?.expiresAt = past
            }
        }
    }

    // MARK: Request handling

    fileprivate func handle(_ request: Request, context: FakeShotGridRequestContext) async throws -> Response {
        var request = request
        let path = Self.normalisedPath(request.uri.path)
        let query = Self.parseForm(request.uri.query ?? "")

        let route: Route
        switch (request.method, path) {
        case (.post, "/api/v1/auth/access_token"):
            // Read the body first so the grant can be counted even when the behaviour fails it.
            let body = try await request.collectBody(upTo: 1 << 20)
            let form = Self.parseForm(String(buffer: body))
            let fields = query.merging(form) { _, fromBody in fromBody }
            let contentType = request.headers[.contentType]
            route = .token(fields: fields, contentType: contentType, bodyIsEmpty: body.readableBytes == 0)
            self.state.withLock { state in
                switch fields["grant_type"] {
                case "password": state.passwordGrants += 1
                case "refresh_token": state.refreshGrants += 1
                default: break
                }
            }
        case (.get, "/api/v1/entity/human_users"), (.get, "/api/v1/entity/HumanUser"):
            route = .humanUsers(query: query)
            self.state.withLock { $0.identityLookups += 1 }
        default:
            route = .unknown
        }

        switch self.behaviour {
        case .normal:
            break
        case .serverError:
            return Self.errorResponse(status: 500, code: 100, title: "Internal Server Error", detail: "Simulated failure.")
        case .slow(let seconds):
            try await Task.sleep(for: .seconds(seconds))
        case .dropConnections:
            // Close the TCP connection without writing a response; the response returned
            // below is never written because the channel is already closed.
            try? await context.channel.close().get()
            return Response(status: .internalServerError)
        }

        switch route {
        case .token(let fields, let contentType, let bodyIsEmpty):
            return self.token(fields: fields, contentType: contentType, bodyIsEmpty: bodyIsEmpty)
        case .humanUsers(let query):
            let selfLink = request.uri.query.map { "\(request.uri.path)?\($0)" } ?? request.uri.path
            return self.humanUsers(query: query, authorization: request.headers[.authorization], selfLink: selfLink)
        case .unknown:
            return Self.errorResponse(
                status: 404,
                code: 104,
                title: "Not Found",
                detail: "No route matches [\(request.method.rawValue)] \"\(request.uri.path)\""
            )
        }
    }

    private enum Route {
        case token(fields: [String: String], contentType: String?, bodyIsEmpty: Bool)
        case humanUsers(query: [String: String])
        case unknown
    }

    private func token(fields: [String: String], contentType: String?, bodyIsEmpty: Bool) -> Response {
        let mediaType = contentType?.split(separator: ";").first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        }
        guard mediaType == "application/x-www-form-urlencoded" else {
            return Self.errorResponse(
                status: 400,
                code: 103,
                title: "Bad Request",
                detail: "Content-Type must be application/x-www-form-urlencoded."
            )
        }
        func missing(_ name: String) -> Response {
            Self.errorResponse(status: 400, code: 103, title: "Bad Request", detail: "Missing required parameter: \(name).", source: [name: "is required"])
        }
        func nonEmpty(_ name: String) -> String? {
            guard let value = fields[name], !value.isEmpty else { return nil }
            return value
        }
        let badCredentials = Self.errorResponse(status: 400, code: 102, title: "Can't authenticate user.")

        switch fields["grant_type"] {
        case "password":
            guard let username = nonEmpty("username") else { return missing("username") }
            guard let password = nonEmpty("password") else { return missing("password") }
            let issued = self.state.withLock { state -> (access: String, refresh: String, expiresIn: Int)? in
                guard let user = state.users.first(where: { $0.login == username }), user.password == password else {
                    return nil
                }
                return state.issueTokens(login: user.login)
            }
            guard let issued else { return badCredentials }
            return Self.tokenResponse(issued)

        case "refresh_token":
            guard let refreshToken = nonEmpty("refresh_token") else { return missing("refresh_token") }
            let issued = self.state.withLock { state -> (access: String, refresh: String, expiresIn: Int)? in
                guard let login = state.refreshTokens.removeValue(forKey: refreshToken) else { return nil }
                return state.issueTokens(login: login)
            }
            guard let issued else { return badCredentials }
            return Self.tokenResponse(issued)

        case nil, "":
            return missing("grant_type")

        case let grantType?:
            return Self.errorResponse(
                status: 400,
                code: 103,
                title: "Bad Request",
                detail: "Unsupported grant_type: \(grantType).",
                source: ["grant_type": "is not supported"]
            )
        }
    }

    private static func tokenResponse(_ issued: (access: String, refresh: String, expiresIn: Int)) -> Response {
        self.jsonResponse(
            status: 200,
            .object([
                ("token_type", .string("Bearer")),
                ("access_token", .string(issued.access)),
                ("expires_in", .int(issued.expiresIn)),
                ("refresh_token", .string(issued.refresh)),
            ])
        )
    }

    private static let humanUserFields = ["login", "email", "name", "sg_status_list"]

    private func humanUsers(query: [String: String], authorization: String?, selfLink: String) -> Response {
        // Bearer token: must be known and unexpired.
        let token: String? = authorization.flatMap { header in
            let parts = header.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
            return parts[1].trimmingCharacters(in: .whitespaces)
        }
        let now = ContinuousClock.now
        let authorised = self.state.withLock { state -> Bool in
            guard let token, let grant = state.accessTokens[token] else { return false }
            return now < grant.expiresAt
        }
        guard authorised else {
            return Self.errorResponse(status: 401, code: 102, title: "Unauthorized", detail: "The access token is missing, invalid or expired.")
        }

        // Filters: filter[field]=value (the keys arrive percent-decoded); "a,b" means any of.
        var filters: [(field: String, values: [String])] = []
        for (key, value) in query where key.hasPrefix("filter[") && key.hasSuffix("]") {
            let field = String(key.dropFirst("filter[".count).dropLast())
            guard field == "id" || Self.humanUserFields.contains(field) else {
                return Self.errorResponse(
                    status: 400,
                    code: 103,
                    title: "API read() HumanUser.\(field) doesn't exist.",
                    source: ["HumanUser.\(field)": " does not exist. Value: \(value)"]
                )
            }
            filters.append((field, value.split(separator: ",", omittingEmptySubsequences: false).map(String.init)))
        }

        // Fields: only the requested ones (all when absent or "*"); unknown ones are ignored.
        let requested: [String]
        if let fieldsParam = query["fields"], !fieldsParam.isEmpty, fieldsParam != "*" {
            let names = fieldsParam.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            requested = Self.humanUserFields.filter { names.contains($0) }
        } else {
            requested = Self.humanUserFields
        }

        let users = self.state.withLock { $0.users }
        let matching = users.filter { user in
            filters.allSatisfy { filter in
                let actual: String
                switch filter.field {
                case "id": actual = String(user.id)
                case "login": actual = user.login
                case "email": actual = user.email
                case "name": actual = user.name
                default: actual = user.status
                }
                return filter.values.contains(actual)
            }
        }

        let data: [JSONValue] = matching.map { user in
            let attributes: [(String, JSONValue)] = requested.map { field in
                switch field {
                case "login": (field, .string(user.login))
                case "email": (field, .string(user.email))
                case "name": (field, .string(user.name))
                default: (field, .string(user.status))
                }
            }
            return .object([
                ("type", .string("HumanUser")),
                ("attributes", .object(attributes)),
                ("relationships", .object([])),
                ("id", .int(user.id)),
                ("links", .object([("self", .string("/api/v1/entity/human_users/\(user.id)"))])),
            ])
        }
        return Self.jsonResponse(
            status: 200,
            .object([
                ("data", .array(data)),
                ("links", .object([("self", .string(selfLink))])),
            ])
        )
    }

    // MARK: Helpers

    /// ShotGrid's error answer: {"errors":[{"id","status","code","title","source","detail","meta"}]}.
    fileprivate static func errorResponse(
        status: Int,
        code: Int,
        title: String,
        detail: String? = nil,
        source: [String: String]? = nil
    ) -> Response {
        let sourceValue: JSONValue = source.map { source in
            .object(source.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })
        } ?? .null
        return self.jsonResponse(
            status: status,
            .object([
                (
                    "errors",
                    .array([
                        .object([
                            ("id", .string(self.randomHex(bytes: 16))),
                            ("status", .int(status)),
                            ("code", .int(code)),
                            ("title", .string(title)),
                            ("source", sourceValue),
                            ("detail", detail.map { .string($0) } ?? .null),
                            ("meta", .null),
                        ])
                    ])
                )
            ])
        )
    }

    private static func jsonResponse(status: Int, _ value: JSONValue) -> Response {
        var text = ""
        value.write(to: &text)
        return Response(
            status: .init(code: status),
            headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-cache, max-age=0"],
            body: .init(byteBuffer: ByteBuffer(string: text))
        )
    }

    private static func normalisedPath(_ path: String) -> String {
        var path = path.removingPercentEncoding ?? path
        while path.count > 1, path.hasSuffix("/") { path.removeLast() }
        return path
    }

    /// application/x-www-form-urlencoded (also query strings): '+' is a space, %XX decoded.
    private static func parseForm(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ part: Substring) -> String {
                let spaced = part.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            let key = decode(parts[0])
            guard !key.isEmpty else { continue }
            fields[key] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return fields
    }

    private static func randomHex(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef")
        var text = ""
        text.reserveCapacity(bytes * 2)
        for _ in 0..<bytes {
            let byte = UInt8.random(in: .min ... .max, using: &generator)
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return text
    }

    /// An opaque 48-character token.
    fileprivate static func randomToken() -> String {
        self.randomHex(bytes: 24)
    }
}

enum FakeShotGridError: Error, CustomStringConvertible {
    case didNotStart(String)

    var description: String {
        switch self {
        case .didNotStart(let reason): "FakeShotGrid did not start: \(reason)"
        }
    }
}

// MARK: - Server plumbing

/// Request context that keeps the connection's channel, so `.dropConnections` can close it.
struct FakeShotGridRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }
}

/// Answers every request itself (routes included), so unknown paths and every status get
/// ShotGrid's errors[] body instead of Hummingbird's default.
struct FakeShotGridMiddleware: RouterMiddleware {
    typealias Context = FakeShotGridRequestContext
    let server: FakeShotGrid

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await self.server.handle(request, context: context)
        } catch let error as HTTPError {
            return FakeShotGrid.errorResponse(status: error.status.code, code: 103, title: error.status.reasonPhrase, detail: error.body)
        }
    }
}

/// Minimal JSON value that keeps object keys in the order given (ShotGrid's order).
private indirect enum JSONValue {
    case string(String)
    case int(Int)
    case null
    case array([JSONValue])
    case object([(String, JSONValue)])

    func write(to out: inout String) {
        switch self {
        case .string(let string):
            Self.writeString(string, to: &out)
        case .int(let int):
            out += String(int)
        case .null:
            out += "null"
        case .array(let values):
            out += "["
            for (index, value) in values.enumerated() {
                if index > 0 { out += "," }
                value.write(to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (index, member) in members.enumerated() {
                if index > 0 { out += "," }
                Self.writeString(member.0, to: &out)
                out += ":"
                member.1.write(to: &out)
            }
            out += "}"
        }
    }

    private static func writeString(_ string: String, to out: inout String) {
        out += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
