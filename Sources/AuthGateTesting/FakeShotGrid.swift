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
//   • Single-record reads: GET /api/v1/entity/Asset/1484?fields=description →
//     {"data":{"type":"Asset","attributes":{"description":"old"},"relationships":{},"id":1484,
//     "links":{"self":"/api/v1/entity/assets/1484"}},"links":{"self":"<request path and query>"}}
//     (cassette …/find/when_the_fields_are_specified/only_returns_specified_fields.yml). CONFIRMED.
//   • Create: POST /api/v1/entity/Asset, Content-Type application/json, the body a flat object of
//     field values ({"description":"This is a desc","project":{"id":122,"type":"Project"}}) →
//     201 {"data":{<the record, every field>}} with no top-level "links"; an unknown field →
//     400, code 103, title "API create() Asset.not_existing_field doesn't exist.", source {}
//     (cassettes …/create/with_a_valid_creation/returns_a_valid_entity.yml and
//     …/create/when_there_s_faulty_request/raises_an_error.yml). CONFIRMED. The real answer also
//     lists every relationship; here `relationships` is {}.
//   • API root: GET /api/v1 → 200 {"data":{"shotgun_version":…,"api_version":"v1",…}}
//     (cassette ShotgridApiRuby_ServerInfo/…/parses_the_server_infos_from_shotgrid.yml, sent with a
//     bearer token). CONFIRMED, but whether it needs the token is not: here it does not.
//
// NOT confirmed, continued:
//   • Project fields `name`, `sg_status` ("Active"), `sg_description` are ShotGrid's, but which a
//     real site returns by default is not; a project missing `name` on create → 400, code 103;
//   • which projects a user sees is set per login here (ShotGrid derives it from permissions and
//     project membership); a project another user cannot see answers 404 like a missing one.
//
// Faked: the token endpoint; HumanUser reads (`/api/v1/entity/human_users` or
// `/api/v1/entity/HumanUser`, list form, simple `filter[field]=value` filters on login, email,
// name, sg_status_list and id); Project list, single read and create
// (`/api/v1/entity/projects[/{id}]` or `/api/v1/entity/Project[/{id}]`, same filters on id,
// name, sg_status), each user seeing only the projects configured (or created) for them; the
// API root. Every entity path needs a known, unexpired bearer token (401 otherwise).
// Not ShotGrid at all: `GET /api/v1/entity/fake_blobs/{bytes}` streams `bytes` of
// DownloadPattern (Content-Length, octet-stream) behind the same bearer check, for streaming tests.
import Foundation
import Hummingbird
import NIOCore
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

    /// A ShotGrid Project, as far as the fake knows one.
    public struct Project: Sendable, Equatable {
        public var id: Int
        public var name: String
        /// ShotGrid `sg_status`, e.g. "Active".
        public var status: String
        /// ShotGrid `sg_description`.
        public var description: String?

        public init(id: Int, name: String, status: String = "Active", description: String? = nil) {
            self.id = id
            self.name = name
            self.status = status
            self.description = description
        }
    }

    /// One request as the fake received it, whatever it answered.
    public struct ReceivedRequest: Sendable {
        public var method: String
        /// Percent-decoded, trailing slashes removed (the form routes match on).
        public var path: String
        /// As sent, nil without `?`.
        public var query: String?
        /// The bearer token of `Authorization`, if one was sent.
        public var bearerToken: String?
        /// The body, for the routes that read one (token and create); nil elsewhere.
        public var body: [UInt8]?
        /// The status answered; 0 when the connection was dropped instead.
        public var status: Int
        /// Which TCP connection it came on: 1 for the first connection the fake saw, and so on.
        public var connection: Int

        public var bodyText: String? { self.body.map { String(decoding: $0, as: UTF8.self) } }
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
        var projects: [String: [Project]]  // login → the projects that user sees
        var nextProjectID: Int
        var behaviour: Behaviour = .normal
        var accessTokenLifetime: Int
        var accessTokens: [String: AccessGrant] = [:]
        var refreshTokens: [String: String] = [:]  // refresh token → login
        var issuedAccessTokens: [String] = []
        var issuedRefreshTokens: [String] = []
        var passwordGrants = 0
        var refreshGrants = 0
        var identityLookups = 0
        var received: [ReceivedRequest] = []

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

    private let state: Mutex<State>
    private let server = LoopbackServer(name: "FakeShotGrid")
    private let tally = ConnectionTally()

    /// `projects` maps a login to the projects that user sees (ids unique across users, or shared
    /// on purpose to let two users see the same project).
    public init(users: [User], projects: [String: [Project]] = [:], accessTokenLifetime: Int = 600) {
        let highest = projects.values.joined().map(\.id).max() ?? 0
        self.state = Mutex(
            State(users: users, projects: projects, nextProjectID: max(highest + 1, 1000), accessTokenLifetime: accessTokenLifetime)
        )
    }

    // MARK: Lifecycle

    /// Binds 127.0.0.1 on a free port and returns once the server is listening.
    /// Throws if the server could not start within 10 seconds. Calling it again while
    /// running does nothing.
    public func start() async throws {
        try await self.server.start(FakeShotGridMiddleware(server: self))
    }

    /// "http://127.0.0.1:PORT" (valid after `start()`).
    public var baseURL: String { self.server.baseURL }

    public var port: Int { self.server.port }

    /// Graceful shutdown (in-flight requests get 2 s); waits until the server has stopped. Idempotent.
    public func stop() async {
        await self.server.stop()
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

    /// Adds a user (or replaces the one with the same login).
    public func addUser(_ user: User) {
        self.state.withLock { state in
            state.users.removeAll { $0.login == user.login }
            state.users.append(user)
        }
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

    /// Replaces the projects `login` sees.
    public func setProjects(_ projects: [Project], for login: String) {
        self.state.withLock { state in
            state.projects[login] = projects
            state.nextProjectID = max(state.nextProjectID, (projects.map(\.id).max() ?? 0) + 1)
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

    /// The projects `login` sees now (created ones included).
    public func projects(for login: String) -> [Project] {
        self.state.withLock { $0.projects[login] ?? [] }
    }

    /// Every request received, in the order answered.
    public var receivedRequests: [ReceivedRequest] { self.state.withLock { $0.received } }

    /// Requests received on `path` (as in `ReceivedRequest.path`, e.g. "/api/v1/entity/projects"),
    /// of `method` ("GET", "POST", …) or any method, whatever the answer.
    public func requestCount(_ path: String, method: String? = nil) -> Int {
        self.state.withLock { state in
            state.received.count(where: { $0.path == path && (method == nil || $0.method == method) })
        }
    }

    /// Distinct TCP connections that sent at least one request.
    public var acceptedConnections: Int { self.tally.count }

    /// Invalidates every access and refresh token issued so far.
    public func revokeAllTokens() {
        self.state.withLock { state in
            state.accessTokens.removeAll()
            state.refreshTokens.removeAll()
        }
    }

    /// Makes every access token issued so far expired (refresh tokens stay valid); every entity
    /// path answers 401 to them from now on.
    public func expireAccessTokens() {
        self.state.withLock { state in
            let past = ContinuousClock.now.advanced(by: .seconds(-1))
            for token in state.accessTokens.keys {
                state.accessTokens[token]?.expiresAt = past
            }
        }
    }

    // MARK: Request handling

    fileprivate func handle(_ request: Request, context: ChannelRequestContext) async throws -> Response {
        let connection = self.tally.ordinal(of: context.channel)
        var request = request
        let path = Self.normalisedPath(request.uri.path)
        let query = Self.parseForm(request.uri.query ?? "")
        let bearer = Self.bearerToken(request.headers[.authorization])
        var body: ByteBuffer?

        let route: Route
        switch (request.method, Self.entityRoute(path)) {
        case (.post, _) where path == "/api/v1/auth/access_token":
            // Read the body first so the grant can be counted even when the behaviour fails it.
            let collected = try await request.collectBody(upTo: 1 << 20)
            body = collected
            let form = Self.parseForm(String(buffer: collected))
            let fields = query.merging(form) { _, fromBody in fromBody }
            let contentType = request.headers[.contentType]
            route = .token(fields: fields, contentType: contentType, bodyIsEmpty: collected.readableBytes == 0)
            self.state.withLock { state in
                switch fields["grant_type"] {
                case "password": state.passwordGrants += 1
                case "refresh_token": state.refreshGrants += 1
                default: break
                }
            }
        case (.get, _) where path == "/api/v1":
            route = .apiRoot
        case (.get, .humanUsers(id: nil)):
            route = .humanUsers(query: query)
            self.state.withLock { $0.identityLookups += 1 }
        case (.get, .projects(let id)):
            route = .readProjects(id: id, query: query)
        case (.post, .projects(id: nil)):
            let collected = try await request.collectBody(upTo: 1 << 20)
            body = collected
            route = .createProject(body: collected)
        case (.get, .fakeBlob(let bytes)):
            route = .fakeBlob(bytes: bytes)
        default:
            route = .unknown
        }

        let response = try await self.respond(to: route, request: request, bearer: bearer, context: context)
        let received = ReceivedRequest(
            method: request.method.rawValue,
            path: path,
            query: request.uri.query,
            bearerToken: bearer,
            body: body.map { Array(buffer: $0) },
            status: response?.status.code ?? 0,
            connection: connection
        )
        self.state.withLock { $0.received.append(received) }
        // nil: the connection is closed already; this answer is never written.
        return response ?? Response(status: .internalServerError)
    }

    /// The answer, after the behaviour knob had its say; nil when the connection was dropped.
    private func respond(
        to route: Route,
        request: Request,
        bearer: String?,
        context: ChannelRequestContext
    ) async throws -> Response? {
        switch self.behaviour {
        case .normal:
            break
        case .serverError:
            return Self.errorResponse(status: 500, code: 100, title: "Internal Server Error", detail: "Simulated failure.")
        case .slow(let seconds):
            try await Task.sleep(for: .seconds(seconds))
        case .dropConnections:
            // Close the TCP connection without writing a response.
            try? await context.channel.close().get()
            return nil
        }

        let selfLink = request.uri.query.map { "\(request.uri.path)?\($0)" } ?? request.uri.path
        switch route {
        case .token(let fields, let contentType, let bodyIsEmpty):
            return self.token(fields: fields, contentType: contentType, bodyIsEmpty: bodyIsEmpty)
        case .apiRoot:
            return Self.apiRootResponse()
        case .unknown:
            return Self.errorResponse(
                status: 404,
                code: 104,
                title: "Not Found",
                detail: "No route matches [\(request.method.rawValue)] \"\(request.uri.path)\""
            )
        case .humanUsers, .readProjects, .createProject, .fakeBlob:
            break
        }

        // Every entity route: the bearer token must be known and unexpired.
        guard let login = self.authorisedLogin(bearer) else {
            return Self.errorResponse(status: 401, code: 102, title: "Unauthorized", detail: "The access token is missing, invalid or expired.")
        }
        switch route {
        case .humanUsers(let query):
            let users = self.state.withLock { $0.users }
            return Self.list(
                type: "HumanUser",
                collection: "human_users",
                records: users.map { user in
                    (
                        id: user.id,
                        attributes: [
                            ("login", .string(user.login)), ("email", .string(user.email)), ("name", .string(user.name)),
                            ("sg_status_list", .string(user.status)),
                        ]
                    )
                },
                query: query,
                selfLink: selfLink
            )
        case .readProjects(nil, let query):
            return Self.list(type: "Project", collection: "projects", records: self.projects(for: login).map(Self.fields), query: query, selfLink: selfLink)
        case .readProjects(let id?, let query):
            guard let project = self.projects(for: login).first(where: { $0.id == id }) else {
                return Self.errorResponse(status: 404, code: 104, title: "Not Found", detail: "Project: \(id) not found")
            }
            let (_, attributes) = Self.fields(project)
            let record = Self.record(type: "Project", collection: "projects", id: id, attributes: Self.selected(attributes, query: query))
            return Self.jsonResponse(status: 200, .object([("data", record), ("links", .object([("self", .string(selfLink))]))]))
        case .createProject(let body):
            return self.createProject(body: body, login: login)
        case .fakeBlob(let bytes):
            var response = Response(status: .ok, body: DownloadPattern.responseBody(count: bytes))
            response.headers[.contentType] = "application/octet-stream"
            return response
        case .token, .apiRoot, .unknown:
            return nil  // answered above
        }
    }

    private enum Route {
        case token(fields: [String: String], contentType: String?, bodyIsEmpty: Bool)
        case apiRoot
        case humanUsers(query: [String: String])
        case readProjects(id: Int?, query: [String: String])
        case createProject(body: ByteBuffer)
        case fakeBlob(bytes: Int)
        case unknown
    }

    private enum EntityPath {
        case humanUsers(id: Int?)
        case projects(id: Int?)
        case fakeBlob(bytes: Int)
        case other
    }

    /// `/api/v1/entity/{type}[/{id}]`, the type by its plural path name or its entity name.
    private static func entityRoute(_ path: String) -> EntityPath {
        let prefix = "/api/v1/entity/"
        guard path.hasPrefix(prefix) else { return .other }
        let parts = path.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count <= 2 else { return .other }
        var id: Int?
        if parts.count == 2 {
            guard let number = Int(parts[1]), number >= 0 else { return .other }
            id = number
        }
        switch parts[0] {
        case "human_users", "HumanUser": return .humanUsers(id: id)
        case "projects", "Project": return .projects(id: id)
        case "fake_blobs": return id.map { .fakeBlob(bytes: $0) } ?? .other
        default: return .other
        }
    }

    private static func bearerToken(_ authorization: String?) -> String? {
        authorization.flatMap { header in
            let parts = header.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
            return parts[1].trimmingCharacters(in: .whitespaces)
        }
    }

    /// The login a bearer token was issued to, if the token is known and unexpired.
    private func authorisedLogin(_ token: String?) -> String? {
        let now = ContinuousClock.now
        return self.state.withLock { state -> String? in
            guard let token, let grant = state.accessTokens[token], now < grant.expiresAt else { return nil }
            return grant.login
        }
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
                ("expires_in", .integer(Int64(issued.expiresIn))),
                ("refresh_token", .string(issued.refresh)),
            ])
        )
    }

    private static let humanUserFields = ["login", "email", "name", "sg_status_list"]
    private static let projectFields = ["name", "sg_status", "sg_description"]

    private static func fields(_ project: Project) -> (id: Int, attributes: [(String, JSONValue)]) {
        (
            project.id,
            [
                ("name", .string(project.name)),
                ("sg_status", .string(project.status)),
                ("sg_description", project.description.map { .string($0) } ?? .null),
            ]
        )
    }

    /// A list read: simple `filter[field]=value` filters ("a,b" means any of), then only the
    /// requested `fields` (all when absent or "*"; unknown ones are ignored).
    private static func list(
        type: String,
        collection: String,
        records: [(id: Int, attributes: [(String, JSONValue)])],
        query: [String: String],
        selfLink: String
    ) -> Response {
        let fieldNames = type == "HumanUser" ? self.humanUserFields : self.projectFields
        var filters: [(field: String, values: [String])] = []
        for (key, value) in query where key.hasPrefix("filter[") && key.hasSuffix("]") {
            let field = String(key.dropFirst("filter[".count).dropLast())
            guard field == "id" || fieldNames.contains(field) else {
                return self.errorResponse(
                    status: 400,
                    code: 103,
                    title: "API read() \(type).\(field) doesn't exist.",
                    source: ["\(type).\(field)": " does not exist. Value: \(value)"]
                )
            }
            filters.append((field, value.split(separator: ",", omittingEmptySubsequences: false).map(String.init)))
        }
        let matching = records.filter { record in
            filters.allSatisfy { filter in
                let actual = filter.field == "id" ? String(record.id) : record.attributes.first { $0.0 == filter.field }?.1.text ?? ""
                return filter.values.contains(actual)
            }
        }
        let data: [JSONValue] = matching.map { record in
            self.record(type: type, collection: collection, id: record.id, attributes: self.selected(record.attributes, query: query))
        }
        return self.jsonResponse(status: 200, .object([("data", .array(data)), ("links", .object([("self", .string(selfLink))]))]))
    }

    /// The attributes named by the `fields` parameter, in the record's order (all when absent or "*").
    private static func selected(_ attributes: [(String, JSONValue)], query: [String: String]) -> [(String, JSONValue)] {
        guard let fieldsParam = query["fields"], !fieldsParam.isEmpty, fieldsParam != "*" else { return attributes }
        let names = fieldsParam.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        return attributes.filter { names.contains($0.0) }
    }

    /// One entity record in ShotGrid's shape; `id` sits outside `attributes`.
    private static func record(type: String, collection: String, id: Int, attributes: [(String, JSONValue)]) -> JSONValue {
        .object([
            ("type", .string(type)),
            ("attributes", .object(attributes)),
            ("relationships", .object([])),
            ("id", .integer(Int64(id))),
            ("links", .object([("self", .string("/api/v1/entity/\(collection)/\(id)"))])),
        ])
    }

    /// POST /api/v1/entity/projects with a flat JSON object of field values (the content type is
    /// not checked); the new project is visible to the creating user only.
    private func createProject(body: ByteBuffer, login: String) -> Response {
        let object = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any]
        guard let object else {
            return Self.errorResponse(status: 400, code: 103, title: "Bad Request", detail: "The request body must be a JSON object.")
        }
        if let unknown = object.keys.sorted().first(where: { !Self.projectFields.contains($0) }) {
            return Self.errorResponse(status: 400, code: 103, title: "API create() Project.\(unknown) doesn't exist.", source: [:])
        }
        guard let name = object["name"] as? String, !name.isEmpty else {
            return Self.errorResponse(status: 400, code: 103, title: "API create() Project.name is required.", source: [:])
        }
        let status = object["sg_status"] as? String ?? "Active"
        let description = object["sg_description"] as? String
        let project = self.state.withLock { state -> Project in
            let project = Project(id: state.nextProjectID, name: name, status: status, description: description)
            state.nextProjectID += 1
            state.projects[login, default: []].append(project)
            return project
        }
        let (id, attributes) = Self.fields(project)
        return Self.jsonResponse(status: 201, .object([("data", Self.record(type: "Project", collection: "projects", id: id, attributes: attributes))]))
    }

    /// GET /api/v1: the server info a real site answers (values from the recorded one).
    private static func apiRootResponse() -> Response {
        self.jsonResponse(
            status: 200,
            .object([
                (
                    "data",
                    .object([
                        ("shotgun_version", .string("v8.26.0.8069 (build b48e91a)")),
                        ("api_version", .string("v1")),
                        ("shotgun_version_number", .string("8.26.0.8069")),
                        ("shotgun_build_number", .string("b48e91a")),
                        ("portfolio_version", .string("8.26.0.8069")),
                        ("unified_login_flow_enabled", .bool(true)),
                        ("user_authentication_method", .string("oxygen")),
                        ("site_id", .string("0")),
                        ("site_name", .string("fake_shotgrid")),
                    ])
                )
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
                            ("status", .integer(Int64(status))),
                            ("code", .integer(Int64(code))),
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
        // Every value here is a plain JSON value, so encoding cannot fail.
        let data = (try? JSONEncoder().encode(value)) ?? Data("null".utf8)
        return Response(
            status: .init(code: status),
            headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-cache, max-age=0"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
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

// MARK: - Server plumbing

/// Answers every request itself (routes included), so unknown paths and every status get
/// ShotGrid's errors[] body instead of Hummingbird's default.
struct FakeShotGridMiddleware: RouterMiddleware {
    typealias Context = ChannelRequestContext
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
