// DeployFilesTests: the recipes in deploy/ checked as operators would use them: every settings name
// is real, nginx, Caddy and systemd accept their files, and nginx and Caddy really do forward auth
// in front of a running gateway.
import AuthGate
import AuthGateTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing
import Yams

@Suite struct DeployFilesTests {
    // MARK: Settings names

    @Test func everyYAMLAndJSONFileParses() throws {
        let files = try Deploy.files().filter { ["yml", "yaml", "json"].contains($0.pathExtension) }
        #expect(files.count >= 10, "found only \(files.map(\.lastPathComponent))")
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            if file.pathExtension == "json" {
                #expect(throws: Never.self, "\(Deploy.relative(file))") { _ = try JSONSerialization.jsonObject(with: Data(text.utf8)) }
            } else {
                let documents = try #require(try? Deploy.yamlDocuments(text), "\(Deploy.relative(file)) is not valid YAML")
                #expect(!documents.isEmpty, "\(Deploy.relative(file)) holds no YAML document")
            }
        }
    }

    @Test func everyAuthgateVariableIsARealSetting() throws {
        let known = Deploy.environmentNames
        var seen = 0
        for file in try Deploy.files() {
            let text = try String(contentsOf: file, encoding: .utf8)
            for match in text.matches(of: /AUTHGATE_[A-Z0-9_]+/) {
                seen += 1
                #expect(known.contains(String(match.output)), "\(Deploy.relative(file)) names \(match.output), which is no setting")
            }
        }
        #expect(seen > 10)
    }

    /// The ConfigMap's authgate.yaml loads through the gateway's own configuration reader: every
    /// key a setting, every route valid (the reader refuses anything else, naming the route).
    @Test func settingsFileNamesRealSettingsAndRoutes() async throws {
        let files = try Deploy.settingsFiles()
        try #require(!files.isEmpty, "no ConfigMap in deploy/ carries an authgate.yaml")
        var routes = 0
        for (origin, text) in files {
            let directory = try TestEnvironment.temporaryDirectory()
            defer { TestEnvironment.remove(directory) }
            let path = try Deploy.settingsFile(text, in: directory)
            let config = try await GatewayConfig.load(flags: [:], environment: [:], file: path)
            #expect(!config.trustedProxies.isEmpty, "\(origin) sets no trusted-proxies")
            routes += config.routes.count
        }
        #expect(routes > 0, "no example route to check")
        // Routes given as AUTHGATE_ROUTES (JSON) anywhere load the same way.
        for (origin, json) in try Deploy.environments().compactMap({ e in e.values["AUTHGATE_ROUTES"].map { (e.origin, $0) } }) {
            let config = try await GatewayConfig.load(flags: [:], environment: ["AUTHGATE_ROUTES": json], file: nil)
            #expect(!config.routes.isEmpty, "\(origin): AUTHGATE_ROUTES holds no route")
        }
    }

    /// The environments the examples give the gateway (compose, systemd, Dockerfile, Kubernetes)
    /// load without error, and each names the proxies it trusts.
    @Test func exampleEnvironmentsLoadAndTrustTheirProxy() async throws {
        let environments = try Deploy.environments()
        let origins = Set(environments.map(\.origin))
        for expected in ["docker-compose.yml", "systemd/authgate.service", "Dockerfile", "k8s/deployment.yaml"] {
            #expect(origins.contains(expected), "no environment found in \(expected)")
        }
        let directory = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for environment in environments {
            var values = environment.values
            // The settings file lives in the ConfigMap, not at the pod's path.
            if values["AUTHGATE_CONFIG"] != nil {
                let (_, text) = try #require(try Deploy.settingsFiles().first)
                values["AUTHGATE_CONFIG"] = try Deploy.settingsFile(text, in: directory)
            }
            do {
                let config = try await GatewayConfig.load(flags: [:], environment: values, file: nil)
                // The Dockerfile is a base image: its trusted proxies are in the `docker run` line.
                if environment.origin != "Dockerfile" {
                    #expect(!config.trustedProxies.isEmpty, "\(environment.origin) sets no trusted-proxies")
                }
            } catch {
                Issue.record("\(environment.origin): \(error)")
            }
        }
        // Every recipe says where trusted-proxies must point.
        for name in [
            "Dockerfile", "nginx/authgate-auth-request.conf", "nginx/authgate-sign-in-redirect.conf", "caddy/Caddyfile", "traefik/README.md", "envoy/README.md", "k8s/configmap.yaml",
        ] {
            let text = try String(contentsOf: Deploy.directory.appendingPathComponent(name), encoding: .utf8)
            #expect(text.contains("AUTHGATE_TRUSTED_PROXIES") || text.contains("trusted-proxies"), "\(name) does not mention trusted-proxies")
        }
    }

    // MARK: Proxies that cannot run here: their header lists

    @Test func traefikMiddlewareCopiesTheIdentityHeaders() throws {
        let text = try String(contentsOf: Deploy.directory.appendingPathComponent("traefik/authgate.yml"), encoding: .utf8)
        let root = try #require(try Yams.load(yaml: text) as? [String: Any])
        let middleware = try #require(Deploy.dig(root, "http", "middlewares", "authgate", "forwardAuth") as? [String: Any])
        #expect((middleware["address"] as? String)?.hasSuffix("/auth/verify") == true)
        #expect(middleware["authResponseHeaders"] as? [String] == Deploy.identityHeaders)
        #expect(middleware["authResponseHeadersRegex"] as? String == "^X-Authgate-")
        #expect(middleware["trustForwardHeader"] is Bool)
        #expect((middleware["authRequestHeaders"] as? [String])?.contains("Authorization") == true)
        // The /auth/ router must not carry the middleware (X-Authgate-CSRF would be stripped).
        let routers = try #require(Deploy.dig(root, "http", "routers") as? [String: [String: Any]])
        for (name, router) in routers where (router["rule"] as? String)?.contains("PathPrefix(`/auth/`)") == true {
            #expect(router["middlewares"] == nil, "router \(name) serves /auth/ behind the middleware")
        }
    }

    @Test func envoyExtAuthzCopiesTheIdentityHeaders() throws {
        let text = try String(contentsOf: Deploy.directory.appendingPathComponent("envoy/envoy.yaml"), encoding: .utf8)
        let root = try #require(try Yams.load(yaml: text))
        let filters = Deploy.mappings(in: root).filter { ($0["@type"] as? String)?.hasSuffix("ext_authz.v3.ExtAuthz") == true }
        let extAuthz = try #require(filters.first, "no ext_authz filter")
        #expect(filters.count == 1)
        let service = try #require(extAuthz["http_service"] as? [String: Any], "ext_authz is not in HTTP service mode")
        #expect(service["path_prefix"] == nil, "path_prefix puts the client's path after /auth/verify")
        func patterns(_ keys: String...) -> Set<String> {
            let list = Deploy.dig(service, keys) as? [[String: Any]] ?? []
            return Set(list.compactMap { ($0["exact"] as? String)?.lowercased() })
        }
        #expect(patterns("authorization_request", "allowed_headers", "patterns").contains("authorization"))
        #expect(patterns("authorization_response", "allowed_upstream_headers", "patterns") == Set(Deploy.identityHeaders.map { $0.lowercased() }))
        #expect(extAuthz["failure_mode_allow"] as? Bool == false)
        // The check is routed to a path-rewriting listener that sends it to /auth/verify.
        let rewrites = Deploy.mappings(in: root).compactMap { $0["regex_rewrite"] as? [String: Any] }
        #expect(rewrites.contains { $0["substitution"] as? String == "/auth/verify" })
        // Client-sent X-Authgate-* headers are stripped before the check.
        #expect(text.contains(#""x-authgate-""#))
    }

    @Test func kubernetesDeploymentIsHardened() throws {
        let documents = try Deploy.files().filter { $0.path.contains("/k8s/") && $0.pathExtension == "yaml" }
            .flatMap { try Deploy.yamlDocuments(String(contentsOf: $0, encoding: .utf8)) }
            .compactMap { $0 as? [String: Any] }
        let kinds = Set(documents.compactMap { $0["kind"] as? String })
        for kind in ["Deployment", "Service", "ConfigMap", "Secret", "PodDisruptionBudget"] {
            #expect(kinds.contains(kind), "deploy/k8s has no \(kind)")
        }
        let deployment = try #require(documents.first { $0["kind"] as? String == "Deployment" })
        let pod = try #require(Deploy.dig(deployment, "spec", "template", "spec") as? [String: Any])
        #expect(Deploy.dig(pod, "securityContext", "runAsNonRoot") as? Bool == true)
        #expect(pod["enableServiceLinks"] as? Bool == false)
        let volumes = try #require(pod["volumes"] as? [[String: Any]])
        let volumesByName = Dictionary(uniqueKeysWithValues: volumes.compactMap { v in (v["name"] as? String).map { ($0, v) } })
        let containers = (pod["containers"] as? [[String: Any]] ?? []) + (pod["initContainers"] as? [[String: Any]] ?? [])
        for container in containers {
            let name = container["name"] as? String ?? "?"
            let security = container["securityContext"] as? [String: Any] ?? [:]
            #expect(security["readOnlyRootFilesystem"] as? Bool == true, "\(name)")
            #expect(security["allowPrivilegeEscalation"] as? Bool == false, "\(name)")
            #expect((Deploy.dig(security, "capabilities", "drop") as? [String])?.contains("ALL") == true, "\(name)")
            #expect(Deploy.dig(container, "resources", "requests") != nil && Deploy.dig(container, "resources", "limits") != nil, "\(name)")
            // Writable only where needed: an emptyDir.
            for mount in container["volumeMounts"] as? [[String: Any]] ?? [] where mount["readOnly"] as? Bool != true {
                let volume = volumesByName[mount["name"] as? String ?? ""]
                #expect(volume?["emptyDir"] != nil, "\(name) mounts \(mount["name"] ?? "?") writable")
            }
        }
        let gateway = try #require((pod["containers"] as? [[String: Any]])?.first)
        #expect(Deploy.dig(gateway, "livenessProbe", "httpGet", "path") as? String == "/healthz")
        #expect(Deploy.dig(gateway, "readinessProbe", "httpGet", "path") as? String == "/readyz")
        // The key ring comes from a Secret mounted owner-only, and lands where `keys` points.
        let secret = try #require(volumes.compactMap { $0["secret"] as? [String: Any] }.first, "no Secret volume")
        let mode = try #require(Deploy.fileMode(secret["defaultMode"]), "the Secret volume has no defaultMode")
        #expect(mode & 0o077 == 0, "defaultMode \(String(mode, radix: 8)) lets group or others read the key ring")
        let env = gateway["env"] as? [[String: Any]] ?? []
        let keys = try #require(env.first { $0["name"] as? String == "AUTHGATE_KEYS" }?["value"] as? String)
        let mounts = gateway["volumeMounts"] as? [[String: Any]] ?? []
        #expect(
            mounts.contains { (keys as NSString).deletingLastPathComponent == $0["mountPath"] as? String },
            "nothing mounted where keys points (\(keys))")
    }

    // MARK: The proxies' own checks

    @Test(.enabled(if: Tools.nginx != nil || TestEnvironment.isCI, "nginx is not installed (scripts/test installs it)"), arguments: NginxConfig.recipes)
    func nginxAcceptsTheRecipe(_ recipe: String) async throws {
        let nginx = try #require(Tools.nginx, "nginx is not installed, and CI=true makes that a failure")
        let directory = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = try NginxConfig.write(recipe, in: directory, gatewayPort: 8080, appPort: 3000, listenPort: 8081)
        let result = try await Tools.run(nginx, ["-t", "-p", directory, "-c", config, "-e", "stderr"])
        #expect(result.status == 0 && result.output.contains("test is successful"), "\(result)")
        #expect(!result.output.contains("[warn]"), "\(result)")
    }

    @Test(.enabled(if: Tools.caddy != nil || TestEnvironment.isCI, "caddy is not installed (scripts/test installs it)"))
    func caddyValidatesTheRecipe() async throws {
        let caddy = try #require(Tools.caddy, "caddy is not installed, and CI=true makes that a failure")
        let directory = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let caddyfile = Deploy.directory.appendingPathComponent("caddy/Caddyfile").path
        let result = try await Tools.run(
            caddy, ["validate", "--config", caddyfile, "--adapter", "caddyfile"], environment: CaddyConfig.environment(home: directory))
        #expect(result.status == 0 && result.output.contains("Valid configuration"), "\(result)")
        #expect(!result.output.contains("not formatted"), "run caddy fmt --overwrite deploy/caddy/Caddyfile: \(result)")
    }

    @Test(.enabled("systemd-analyze verify does not work on this machine") { await Tools.systemdAnalyzeWorks() })
    func systemdUnitVerifies() async throws {
        let analyze = try #require(Tools.systemdAnalyze)
        let directory = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The unit names the installed binary; the built one stands in for it.
        var unit = try String(contentsOf: Deploy.directory.appendingPathComponent("systemd/authgate.service"), encoding: .utf8)
        #expect(unit.contains("ExecStart=/usr/local/bin/authgate serve"))
        unit = unit.replacingOccurrences(of: "/usr/local/bin/authgate", with: try OperatorCLI.binary())
        let path = directory + "/authgate.service"
        try unit.write(toFile: path, atomically: true, encoding: .utf8)
        let result = try await Tools.run(analyze, ["verify", "--man=no", path])
        let complaints = result.output.split(separator: "\n").filter { $0.contains("authgate.service") }
        #expect(result.status == 0 && complaints.isEmpty, "\(result)")
        // And the check does catch a mistake.
        try unit.replacingOccurrences(of: "[Service]\n", with: "[Service]\nNoSuchSetting=1\n").write(toFile: path, atomically: true, encoding: .utf8)
        let broken = try await Tools.run(analyze, ["verify", "--man=no", path])
        #expect(broken.output.contains("NoSuchSetting"), "\(broken)")
    }

    // MARK: End to end: a real proxy in front of a real gateway

    @Test(.enabled(if: Tools.nginx != nil || TestEnvironment.isCI, "nginx is not installed (scripts/test installs it)"), arguments: NginxConfig.recipes)
    func nginxForwardsAuthToTheGateway(_ recipe: String) async throws {
        let nginx = try #require(Tools.nginx, "nginx is not installed, and CI=true makes that a failure")
        try await ForwardAuthCheck.run(stripsWholePrefix: false, redirectsNavigations: recipe == NginxConfig.signInRecipe) { directory, gatewayPort, appPort, port in
            let config = try NginxConfig.write(recipe, in: directory, gatewayPort: gatewayPort, appPort: appPort, listenPort: port, foreground: true)
            let errorLog = directory + "/error.log"
            let server = try ChildProcess(nginx, ["-p", directory, "-c", config, "-e", errorLog], log: directory + "/nginx.out")
            return ProxyUnderTest(server: server, logs: [errorLog]) {
                _ = try? await Tools.run(nginx, ["-p", directory, "-c", config, "-s", "stop"])
            }
        }
    }

    @Test(.enabled(if: Tools.caddy != nil || TestEnvironment.isCI, "caddy is not installed (scripts/test installs it)"))
    func caddyForwardsAuthToTheGateway() async throws {
        let caddy = try #require(Tools.caddy, "caddy is not installed, and CI=true makes that a failure")
        try await ForwardAuthCheck.run(stripsWholePrefix: true) { directory, gatewayPort, appPort, port in
            let admin = "127.0.0.1:\(try TestEnvironment.freePort())"
            let config = try CaddyConfig.write(in: directory, gatewayPort: gatewayPort, appPort: appPort, listenPort: port, admin: admin)
            let environment = CaddyConfig.environment(home: directory)
            let server = try ChildProcess(
                caddy, ["run", "--config", config, "--adapter", "caddyfile"], environment: environment, log: directory + "/caddy.out")
            return ProxyUnderTest(server: server, logs: []) {
                _ = try? await Tools.run(caddy, ["stop", "--address", admin], environment: environment)
            }
        }
    }
}

/// A proxy one end-to-end test started, and how to ask it to stop.
struct ProxyUnderTest {
    var server: ChildProcess
    var logs: [String]
    var stop: () async -> Void
}

/// What both end-to-end tests check through a proxy: login through it, identity headers reach the
/// app and a client's own do not, and without a valid token the app is never reached.
struct ForwardAuthCheck {
    let proxy: String
    let app: RecordingApp
    /// Caddy strips every client-sent X-Authgate-*; stock nginx replaces the five names only.
    let stripsWholePrefix: Bool

    /// Starts a gateway (local user alice, trusting 127.0.0.1 as the recipes say), the recording
    /// app and the proxy `start` launches in a temporary directory on a free port; runs the
    /// checks; stops all three and removes every directory, whatever happened.
    static func run(
        stripsWholePrefix: Bool,
        redirectsNavigations: Bool = false,
        start: @Sendable (_ directory: String, _ gatewayPort: Int, _ appPort: Int, _ port: Int) throws -> ProxyUnderTest
    ) async throws {
        try await withGateway(.sqlite, configure: { $0.trustedProxies = [IPNetwork("127.0.0.1")!] }) { gateway in
            try await RecordingApp.run { app in
                let directory = try TestEnvironment.temporaryDirectory()
                defer { try? FileManager.default.removeItem(atPath: directory) }
                let port = try TestEnvironment.freePort()
                let proxy = try start(directory, gateway.port, app.port, port)
                do {
                    try await proxy.server.waitUntilListening(port: port, logs: proxy.logs)
                    try await ForwardAuthCheck(proxy: "http://127.0.0.1:\(port)", app: app, stripsWholePrefix: stripsWholePrefix).run()
                    try await checkNavigations(port: port, app: app, redirected: redirectsNavigations)
                } catch {
                    await proxy.server.stop(proxy.stop)
                    throw error
                }
                await proxy.server.stop(proxy.stop)
            }
        }
    }

    /// Without a token, a browser navigation goes to the sign-in page (302, `rd` the original URI,
    /// percent-encoded) with the sign-in recipe, and is a 401 with the plain one; a fetch is always
    /// the 401 JSON; the app is never reached.
    static func checkNavigations(port: Int, app: RecordingApp, redirected: Bool) async throws {
        let reached = app.requests.count
        let html = HeaderLine("Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8")
        let navigation = try await raw(port, "GET", "/app/report?x=1&y=a%20b", [html, HeaderLine("Sec-Fetch-Mode", "navigate")])
        if redirected {
            #expect(navigation.status == 302 && navigation.header("Location") == "/auth/login?rd=/app/report%3Fx%3D1%26y%3Da%2520b", "\(navigation.status) \(navigation.headers)")
            // The sign-in page it points to is served through the same proxy.
            let page = try await raw(port, "GET", try #require(navigation.header("Location")), [html])
            #expect(page.status == 200 && page.text.contains(#"name="rd" value="/app/report?x=1&amp;y=a%20b""#), "\(page.status)")
        } else {
            #expect(navigation.status == 401 && navigation.header("Location") == nil)
        }
        for (label, headers) in [("fetch", [html, HeaderLine("Sec-Fetch-Mode", "cors")]), ("XHR", [html, HeaderLine("X-Requested-With", "XMLHttpRequest")]), ("API client", [])] {
            let answer = try await raw(port, "GET", "/app/report", headers)
            #expect(answer.status == 401 && answer.errorCode == "invalid_token" && answer.header("Location") == nil, "\(label): \(answer.status)")
        }
        #expect(app.requests.count == reached, "the app was reached without a valid token")
    }

    func run() async throws {
        let client = TestHTTPClient(baseURL: proxy)
        // authgate's own endpoints through the proxy.
        let signedIn = try await client.postJSON("/auth/login", ["username": "alice", "password": "correct-horse-1"])
        #expect(signedIn.status == 200, "\(signedIn.status) \(signedIn.text)")
        let access = try #require(signedIn.json["access_token"] as? String)
        let session = try #require(signedIn.json["session_id"] as? String)

        // A valid token, and a client claiming to be mallory.
        let allowed = try await client.send(
            "GET", "/app/page?x=1",
            headers: [
                "Authorization": "Bearer \(access)", "X-Authgate-Login": "mallory", "X-Authgate-Email": "mallory@evil.example",
                "X-Authgate-User-Id": "user-mallory", "X-Authgate-Role": "admin",
            ])
        #expect(allowed.status == 200 && allowed.text == "app", "\(allowed.status) \(allowed.text)")
        let seen = try #require(app.requests.last, "the app was not reached")
        #expect(seen.uri == "/app/page?x=1")
        #expect(seen.values("X-Authgate-User-Id") == ["user-alice"])
        #expect(seen.values("X-Authgate-Login") == ["alice"])
        #expect(seen.values("X-Authgate-Email") == ["alice@example.com"])
        #expect(seen.values("X-Authgate-Name") == ["Alice A"])
        #expect(seen.values("X-Authgate-Session") == [session])
        if stripsWholePrefix { #expect(seen.values("X-Authgate-Role").isEmpty) }
        #expect(seen.values("X-Forwarded-For").last?.hasSuffix("127.0.0.1") == true, "\(seen.fields)")
        #expect(seen.values("X-Forwarded-Proto") == ["http"])
        #expect(seen.values("X-Forwarded-Host").first?.hasPrefix("127.0.0.1") == true)

        // No token, a malformed one, a tampered one: 401 from authgate's contract, app untouched.
        let reached = app.requests.count
        let tampered = String(access.dropLast(2)) + (access.hasSuffix("AA") ? "BB" : "AA")
        let attempts: [(String, [String: String])] = [
            ("no token", ["X-Authgate-Login": "mallory"]),
            ("malformed token", ["Authorization": "Bearer not.a.jwt", "X-Authgate-Login": "mallory"]),
            ("tampered token", ["Authorization": "Bearer \(tampered)"]),
        ]
        for (label, headers) in attempts {
            let denied = try await client.send("GET", "/app/page", headers: headers)
            #expect(denied.status == 401 && denied.errorCode == "invalid_token", "\(label): \(denied.status) \(denied.text)")
            #expect(denied.header("WWW-Authenticate")?.hasPrefix(#"Bearer realm="authgate""#) == true, "\(label)")
        }
        #expect(app.requests.count == reached, "the app was reached without a valid token")

        // Logout through the proxy revokes the token at the proxy too (the contract's 1 s).
        let logout = try await client.send("POST", "/auth/logout", headers: ["Authorization": "Bearer \(access)"])
        #expect(logout.status == 204)
        let status = try await statusWithin(1, becomes: 401) {
            try await client.send("GET", "/app/after-logout", headers: ["Authorization": "Bearer \(access)"]).status
        }
        #expect(status == 401)
    }
}

/// The protected application: answers "app" to any GET and records what each request carried.
final class RecordingApp: Sendable {
    struct Seen: Sendable {
        var uri: String
        var fields: [String]  // "Name: value", in the order received

        func values(_ name: String) -> [String] {
            let prefix = name.lowercased() + ": "
            return fields.filter { $0.lowercased().hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
        }
    }

    final class Log: Sendable {
        private let entries = Mutex<[Seen]>([])
        func append(_ entry: Seen) { entries.withLock { $0.append(entry) } }
        var all: [Seen] { entries.withLock { $0 } }
    }

    let port: Int
    private let log: Log

    private init(port: Int, log: Log) {
        self.port = port
        self.log = log
    }

    var requests: [Seen] { log.all }

    /// Runs `body` while the app listens on a free loopback port; stops it afterwards.
    static func run(_ body: @Sendable (RecordingApp) async throws -> Void) async throws {
        let log = Log()
        let router = Router()
        router.get("**") { request, _ -> String in
            log.append(Seen(uri: request.uri.description, fields: request.headers.map { "\($0.name.canonicalName): \($0.value)" }))
            return "app"
        }
        var logger = Logger(label: "deploy-test-app")
        logger.logLevel = .critical
        let application = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: logger)
        try await application.test(.live) { client in
            let port = try #require(client.port)
            try await body(RecordingApp(port: port, log: log))
        }
    }
}

/// deploy/ and what the recipes may name.
enum Deploy {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let directory = root.appendingPathComponent("deploy")

    /// Every name a recipe may use: the settings, the routes list, and the configuration file.
    static let settingNames = Set(GatewaySetting.all.map(\.name) + [GatewaySetting.routes, "config"])
    static let environmentNames = Set(settingNames.map(GatewaySetting.environmentName))
    static let identityHeaders = ["X-Authgate-User-Id", "X-Authgate-Login", "X-Authgate-Email", "X-Authgate-Name", "X-Authgate-Session"]

    static func files() throws -> [URL] {
        let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: [.isRegularFileKey])
        var files: [URL] = []
        while let url = enumerator?.nextObject() as? URL {
            if (try url.resourceValues(forKeys: [.isRegularFileKey])).isRegularFile == true { files.append(url) }
        }
        guard !files.isEmpty else { throw TestSetupError("no files under \(directory.path)") }
        return files.sorted { $0.path < $1.path }
    }

    static func relative(_ url: URL) -> String {
        String(url.standardizedFileURL.path.dropFirst(directory.standardizedFileURL.path.count + 1))
    }

    static func yamlDocuments(_ text: String) throws -> [Any] {
        var sequence = try Yams.load_all(yaml: text)
        var documents: [Any] = []
        while let document = sequence.next() { documents.append(document) }
        if let error = sequence.error { throw error }
        return documents
    }

    /// Settings files: each ConfigMap's `*.yaml` data entry, as (origin, text).
    static func settingsFiles() throws -> [(String, String)] {
        var found: [(String, String)] = []
        for file in try files() where ["yml", "yaml"].contains(file.pathExtension) {
            for case let document as [String: Any] in try yamlDocuments(String(contentsOf: file, encoding: .utf8))
            where document["kind"] as? String == "ConfigMap" {
                for case (let key, let text as String) in document["data"] as? [String: Any] ?? [:]
                where key.hasSuffix(".yaml") || key.hasSuffix(".yml") {
                    found.append(("\(relative(file)) \(key)", text))
                }
            }
        }
        return found
    }

    /// A settings file's text written where the configuration reader can load it.
    static func settingsFile(_ text: String, in directory: String) throws -> String {
        let path = directory + "/authgate.yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    struct Environment {
        var origin: String
        var values: [String: String]
    }

    /// The AUTHGATE_* variables each example hands the gateway: compose's environment map, the
    /// unit's Environment= lines, the Dockerfile's ENV, the Deployment's literal env values.
    static func environments() throws -> [Environment] {
        var result: [Environment] = []
        func only(_ values: [String: String]) -> [String: String] { values.filter { $0.key.hasPrefix("AUTHGATE_") } }

        let compose = try #require(
            try Yams.load(yaml: String(contentsOf: directory.appendingPathComponent("docker-compose.yml"), encoding: .utf8)) as? [String: Any])
        for case (let name, let service as [String: Any]) in compose["services"] as? [String: Any] ?? [:] {
            guard let environment = service["environment"] as? [String: Any] else { continue }
            let values = only(environment.mapValues { "\($0)" })
            if !values.isEmpty {
                result.append(Environment(origin: name == "authgate" ? "docker-compose.yml" : "docker-compose.yml \(name)", values: values))
            }
        }

        let unit = try String(contentsOf: directory.appendingPathComponent("systemd/authgate.service"), encoding: .utf8)
        var unitValues: [String: String] = [:]
        for line in unit.split(separator: "\n") where line.hasPrefix("Environment=") {
            let assignment = line.dropFirst("Environment=".count)
            guard let equals = assignment.firstIndex(of: "=") else { continue }
            unitValues[String(assignment[..<equals])] = String(assignment[assignment.index(after: equals)...])
        }
        result.append(Environment(origin: "systemd/authgate.service", values: only(unitValues)))

        // ENV A=1 \ B=2: continuation lines joined first.
        let dockerfile = try String(contentsOf: directory.appendingPathComponent("Dockerfile"), encoding: .utf8)
            .replacingOccurrences(of: "\\\n", with: " ")
        var dockerValues: [String: String] = [:]
        for line in dockerfile.split(separator: "\n") where line.hasPrefix("ENV ") {
            for pair in line.dropFirst(4).split(separator: " ") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2 { dockerValues[String(parts[0])] = String(parts[1]) }
            }
        }
        result.append(Environment(origin: "Dockerfile", values: only(dockerValues)))

        for file in try files() where file.path.contains("/k8s/") && ["yml", "yaml"].contains(file.pathExtension) {
            for case let document as [String: Any] in try yamlDocuments(String(contentsOf: file, encoding: .utf8)) {
                for container in dig(document, "spec", "template", "spec", "containers") as? [[String: Any]] ?? [] {
                    var values: [String: String] = [:]
                    for entry in container["env"] as? [[String: Any]] ?? [] {
                        if let name = entry["name"] as? String, let value = entry["value"] { values[name] = "\(value)" }
                    }
                    result.append(Environment(origin: relative(file), values: only(values)))
                }
            }
        }
        return result
    }

    static func dig(_ value: Any?, _ keys: String...) -> Any? { dig(value, keys) }

    static func dig(_ value: Any?, _ keys: [String]) -> Any? {
        keys.reduce(value) { ($0 as? [String: Any])?[$1] }
    }

    /// Every mapping anywhere inside a parsed YAML value.
    static func mappings(in value: Any) -> [[String: Any]] {
        if let mapping = value as? [String: Any] { return [mapping] + mapping.values.flatMap { mappings(in: $0) } }
        if let list = value as? [Any] { return list.flatMap { mappings(in: $0) } }
        return []
    }

    /// A file mode as YAML gives it: 0400 read as octal (Kubernetes' reading), or a decimal 256.
    static func fileMode(_ value: Any?) -> Int? {
        switch value {
        case let number as Int: number
        case let text as String: Int(text.hasPrefix("0o") ? String(text.dropFirst(2)) : text, radix: 8)
        default: nil
        }
    }
}

/// The tools the recipes run with, found on PATH or where Debian puts them.
enum Tools {
    static let nginx = find("nginx")
    static let caddy = find("caddy")
    static let systemdAnalyze = find("systemd-analyze")

    static func find(_ name: String) -> String? {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        let candidates = path + ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        return candidates.map { $0 + "/" + name }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    struct Result: Sendable, CustomStringConvertible {
        var status: Int32
        var output: String  // stdout and stderr together
        var description: String { "exit \(status): \(output)" }
    }

    /// Runs a short command to completion (killed after 60 s); stdout and stderr go through a file
    /// so a chatty tool never blocks on a full pipe.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) async throws -> Result {
        let directory = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let outputPath = directory + "/output"
        let child = try ChildProcess(executable, arguments, environment: environment, log: outputPath)
        let exited = await child.exited(within: 60)
        if !exited { await child.stop {} }
        return Result(status: exited ? child.status : -1, output: child.output)
    }

    /// Whether `systemd-analyze verify` works here: it does on a plain Debian, even in a container
    /// without systemd running, but not everywhere.
    static func systemdAnalyzeWorks() async -> Bool {
        guard let systemdAnalyze, let directory = try? TestEnvironment.temporaryDirectory() else { return false }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/probe.service"
        guard (try? "[Service]\nType=oneshot\nExecStart=/bin/true\n".write(toFile: path, atomically: true, encoding: .utf8)) != nil,
            let result = try? await run(systemdAnalyze, ["verify", "--man=no", path])
        else { return false }
        return result.status == 0 && !result.output.contains("probe.service")
    }
}

/// A child process a test owns: output to a file, stopped and awaited before the test ends.
/// `Process` is not Sendable; only the task that started it uses this object.
final class ChildProcess: @unchecked Sendable {
    private let process = Process()
    private let logPath: String

    init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, log: String) throws {
        logPath = log
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var output: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
    var status: Int32 { process.terminationStatus }
    var pid: pid_t { process.processIdentifier }

    /// Polls (a blocking wait would hold a cooperative thread).
    func exited(within seconds: Double) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning, Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        return !process.isRunning
    }

    /// Waits until something accepts connections on the loopback port; throws with the process's
    /// output (and `logs`) if it exits first or takes more than 20 s.
    func waitUntilListening(port: Int, logs: [String]) async throws {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if !process.isRunning { break }
            if Self.accepts(port: port) { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        let logText = logs.map { (try? String(contentsOfFile: $0, encoding: .utf8)) ?? "" }.joined(separator: "\n")
        throw TestSetupError("\(process.executableURL?.lastPathComponent ?? "server") is not listening on \(port): \(output)\n\(logText)")
    }

    /// Asks the server to stop (`gracefully`: its own stop command, which also works when the
    /// test runner hands children a blocked SIGTERM), then SIGKILLs it and its children if it has
    /// not exited within 5 s.
    func stop(_ gracefully: () async -> Void) async {
        if process.isRunning { await gracefully() }
        if await exited(within: 5) { return }
        let pid = process.processIdentifier
        let children = Self.children(of: pid)
        kill(pid, SIGKILL)
        for child in children { kill(child, SIGKILL) }
        _ = await exited(within: 5)
    }

    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    /// nginx's workers, so a SIGKILLed master leaves none behind.
    static func children(of parent: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            // After "(comm)": state, then the parent's pid.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && pid_t(fields[1]) == parent ? pid : nil
        }
    }
}

/// nginx.conf around one of the deploy/nginx recipes: everything under a temporary prefix, the
/// recipe's ports replaced.
enum NginxConfig {
    static let signInRecipe = "nginx/authgate-sign-in-redirect.conf"
    /// Every nginx recipe; each is complete on its own (they are alternatives).
    static let recipes = ["nginx/authgate-auth-request.conf", signInRecipe]

    static func write(
        _ recipe: String = "nginx/authgate-auth-request.conf", in directory: String, gatewayPort: Int, appPort: Int, listenPort: Int, foreground: Bool = false
    ) throws -> String {
        var site = try String(contentsOf: Deploy.directory.appendingPathComponent(recipe), encoding: .utf8)
        try replaceOnce(&site, "server 127.0.0.1:8080;", "server 127.0.0.1:\(gatewayPort);")
        try replaceOnce(&site, "server 127.0.0.1:3000;", "server 127.0.0.1:\(appPort);")
        try replaceOnce(&site, "listen 80;", "listen 127.0.0.1:\(listenPort);")
        try site.write(toFile: directory + "/authgate.conf", atomically: true, encoding: .utf8)
        // As root the workers would drop to nobody, who cannot use the temporary directory.
        let user = getuid() == 0 ? "user root;\n" : ""
        let main = """
            # Generated by DeployFilesTests.
            \(user)worker_processes 1;
            daemon \(foreground ? "off" : "on");
            pid \(directory)/nginx.pid;
            error_log \(directory)/error.log warn;
            events { worker_connections 64; }
            http {
                access_log off;
                client_body_temp_path \(directory)/client_body;
                proxy_temp_path \(directory)/proxy;
                fastcgi_temp_path \(directory)/fastcgi;
                uwsgi_temp_path \(directory)/uwsgi;
                scgi_temp_path \(directory)/scgi;
                include \(directory)/authgate.conf;
            }

            """
        let path = directory + "/nginx.conf"
        try main.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The test must fail loudly when the recipe no longer has the line it substitutes.
    static func replaceOnce(_ text: inout String, _ old: String, _ new: String) throws {
        guard text.components(separatedBy: old).count == 2 else { throw TestSetupError("the recipe must contain `\(old)` exactly once") }
        text = text.replacingOccurrences(of: old, with: new)
    }
}

/// A Caddyfile around deploy/caddy/Caddyfile: plain HTTP on a free port, admin API on another.
enum CaddyConfig {
    static func write(in directory: String, gatewayPort: Int, appPort: Int, listenPort: Int, admin: String) throws -> String {
        var site = try String(contentsOf: Deploy.directory.appendingPathComponent("caddy/Caddyfile"), encoding: .utf8)
        try NginxConfig.replaceOnce(&site, "app.example.com {", "http://:\(listenPort) {")
        guard site.contains("127.0.0.1:8080"), site.contains("127.0.0.1:3000") else {
            throw TestSetupError("the Caddyfile must name the gateway as 127.0.0.1:8080 and the app as 127.0.0.1:3000")
        }
        site = site.replacingOccurrences(of: "127.0.0.1:8080", with: "127.0.0.1:\(gatewayPort)")
            .replacingOccurrences(of: "127.0.0.1:3000", with: "127.0.0.1:\(appPort)")
        let path = directory + "/Caddyfile"
        try ("{\n\tadmin \(admin)\n}\n\n" + site).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Caddy keeps its autosaved config and certificate storage under HOME/XDG: the test's directory.
    static func environment(home: String) -> [String: String] {
        ["HOME": home, "XDG_CONFIG_HOME": home + "/config", "XDG_DATA_HOME": home + "/data"]
    }
}
