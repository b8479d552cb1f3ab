// SettingsTests: every setting's one name as a flag, an AUTHGATE_* variable and a YAML key, and
// flag > env > file > default, in process (GatewayConfig.load) and through `authgate config check`.
@testable import AuthGate
import AuthGateTesting
import Foundation
import Testing

/// Runs `body` with the path of a YAML file holding `text`; the folder is removed afterwards.
func withYAMLFile<T>(_ text: String, _ body: (_ path: String) async throws -> T) async throws -> T {
    let directory = try TestEnvironment.temporaryDirectory()
    return try await finally({
        let path = directory + "/authgate.yaml"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return try await body(path)
    }, { TestEnvironment.remove(directory) })
}

/// `name  value` lines of `config check` as a dictionary (an empty value reads as "").
func reportedSettings(_ stdout: String) -> [String: String] {
    var settings: [String: String] = [:]
    for line in stdout.split(separator: "\n") where !line.hasPrefix(" ") && !line.hasPrefix("routes") {
        let name = line.prefix { $0 != " " }
        settings[String(name)] = line.dropFirst(name.count).trimmingCharacters(in: .whitespaces)
    }
    return settings
}

/// The routes lines of `config check`, without their indentation.
func reportedRoutes(_ stdout: String) -> [String] {
    stdout.split(separator: "\n").filter { $0.hasPrefix("  ") }.map { $0.trimmingCharacters(in: .whitespaces) }
}

extension GatewayConfig {
    /// The report line of one setting, as `config check` prints it.
    func reported(_ name: String) -> String? { ConfigReport.settings(self).first { $0.name == name }?.value }
}

/// One setting with a value other than its default: as text (flag, variable), as YAML, and as
/// `config check` reports it. `companions` are other settings it needs (given as flags).
struct SettingSample: Sendable, CustomTestStringConvertible {
    var name: String
    var text: String
    var yaml: String
    var reported: String
    var companions: [String: String] = [:]

    var testDescription: String { name }

    init(_ name: String, _ text: String, yaml: String? = nil, reported: String? = nil, companions: [String: String] = [:]) {
        self.name = name
        self.text = text
        self.yaml = yaml ?? "\"\(text)\""
        self.reported = reported ?? text
        self.companions = companions
    }
}

enum SettingForm: String, Sendable, CaseIterable, CustomTestStringConvertible {
    case flag, environment, file
    var testDescription: String { rawValue }
}

// Serialized: a dozen runs of the binary at once would take the cores from other suites.
@Suite(.serialized) struct SettingsTests {
    static let jwtSecret = "settings-test-jwt-secret-0123456789abcdef"
    static let sealKey = Data(repeating: 7, count: 32).base64EncodedString()

    /// A non-default value for every entry of GatewaySetting.all; YAML uses the native type
    /// where there is one (numbers, booleans, lists).
    static let samples: [SettingSample] = [
        SettingSample("listen", "0.0.0.0:9090"),
        SettingSample("store", "sqlite:/var/lib/authgate/s.db"),
        SettingSample("provider", "shotgrid", companions: ["shotgrid-url": "https://sg.example.com"]),
        SettingSample("shotgrid-url", "https://site.shotgrid.example"),
        SettingSample("shotgrid-allow-insecure", "true", yaml: "true"),
        SettingSample("keys", "/etc/authgate/keys.json"),
        SettingSample("issuer", "https://auth.example"),
        SettingSample("audience", "internal-apis"),
        SettingSample("access-ttl", "120", yaml: "120"),
        SettingSample("session-idle-ttl", "600", yaml: "600"),
        SettingSample("session-max-ttl", "7200", yaml: "7200"),
        SettingSample("pool-size", "16", yaml: "16"),
        SettingSample("pool-idle", "30", yaml: "30"),
        SettingSample("session-cache-size", "500", yaml: "500"),
        SettingSample("upstream-timeout", "3.5", yaml: "3.5"),
        SettingSample("store-timeout", "2", yaml: "2"),
        SettingSample("store-fail-static", "12", yaml: "12"),
        SettingSample("login-max-failures", "9", yaml: "9"),
        SettingSample("login-window", "60", yaml: "60"),
        SettingSample("login-ban", "90", yaml: "90"),
        SettingSample("jwt-secret", jwtSecret, reported: "***"),
        SettingSample("seal-key", sealKey, reported: "***"),
        SettingSample(
            "allowed-origins", "https://app.example,http://localhost:8000", yaml: "\n  - https://app.example\n  - http://localhost:8000"),
        SettingSample("trusted-proxies", "10.0.0.1,192.168.0.0/16", yaml: "[10.0.0.1, 192.168.0.0/16]", reported: "10.0.0.1/32,192.168.0.0/16"),
        SettingSample("idle-timeout", "15", yaml: "15"),
        SettingSample("log-format", "json"),
        SettingSample("log-level", "debug"),
    ]

    static let routesJSON = #"[{"prefix":"/api","upstream":"http://127.0.0.1:9000/v1","authorization":"internal","timeout":4}]"#
    static let routesYAML = """
        routes:
          - prefix: /api
            upstream: http://127.0.0.1:9000/v1
            authorization: internal
            timeout: 4
        """
    static let routesReported = ["/api -> http://127.0.0.1:9000/v1 strip_prefix=true timeout=4.0 authorization=internal audience=/api"]

    @Test func everySettingHasASample() {
        #expect(Set(Self.samples.map(\.name)) == Set(GatewaySetting.all.map(\.name)))
        #expect(Self.samples.count == GatewaySetting.all.count)
        for sample in Self.samples {
            #expect(GatewayConfig().reported(sample.name) != sample.reported, "\(sample.name)'s sample is its default")
        }
    }

    /// Each setting given only as `--name`, only as AUTHGATE_NAME, or only as the YAML key `name`
    /// takes effect; the secrets are checked by value, since the report redacts them.
    @Test(arguments: samples, SettingForm.allCases)
    func eachSettingTakesEffectUnderItsOneName(_ sample: SettingSample, _ form: SettingForm) async throws {
        let yaml = form == .file ? "\(sample.name): \(sample.yaml)\n" : "{}\n"
        let config = try await withYAMLFile(yaml) { path in
            try await GatewayConfig.load(
                flags: (form == .flag ? [sample.name: sample.text] : [:]).merging(sample.companions) { $1 },
                environment: form == .environment ? [GatewaySetting.environmentName(sample.name): sample.text] : [:],
                file: path)
        }
        #expect(config.reported(sample.name) == sample.reported)
        switch sample.name {
        case "jwt-secret": #expect(config.jwtSecret?.value == Self.jwtSecret)
        case "seal-key": #expect(config.sealKey?.value == Self.sealKey)
        default: break
        }
    }

    @Test(arguments: SettingForm.allCases)
    func routesTakeEffectUnderTheirOneName(_ form: SettingForm) async throws {
        let config = try await withYAMLFile(form == .file ? Self.routesYAML : "{}\n") { path in
            try await GatewayConfig.load(
                flags: form == .flag ? ["routes": Self.routesJSON] : [:],
                environment: form == .environment ? ["AUTHGATE_ROUTES": Self.routesJSON] : [:], file: path)
        }
        #expect(ConfigReport.routes(config) == Self.routesReported)
    }

    /// The real binary: every setting as a flag, then every setting as a variable, then every
    /// setting in the YAML file (found through AUTHGATE_CONFIG), each printed by `config check`.
    @Test(arguments: SettingForm.allCases)
    func configCheckShowsEverySettingGivenInOneForm(_ form: SettingForm) async throws {
        let yaml = Self.samples.map { "\($0.name): \($0.yaml)" }.joined(separator: "\n") + "\n" + Self.routesYAML + "\n"
        try await withYAMLFile(yaml) { path in
            var arguments = ["config", "check"]
            var environment: [String: String] = [:]
            switch form {
            case .flag:
                for sample in Self.samples { arguments += ["--\(sample.name)", sample.text] }
                arguments += ["--routes", Self.routesJSON]
            case .environment:
                for sample in Self.samples { environment[GatewaySetting.environmentName(sample.name)] = sample.text }
                environment["AUTHGATE_ROUTES"] = Self.routesJSON
            case .file:
                environment["AUTHGATE_CONFIG"] = path
            }
            var cli = OperatorCLI(store: "", keysPath: "")
            cli.settings = environment
            let result = try await cli.run(arguments)
            try #require(result.status == 0, "\(result)")
            let reported = reportedSettings(result.stdout)
            for sample in Self.samples {
                #expect(reported[sample.name] == sample.reported, "\(sample.name) in \(result.stdout)")
            }
            #expect(reportedRoutes(result.stdout) == Self.routesReported)
            #expect(!result.stdout.contains(Self.jwtSecret) && !result.stdout.contains(Self.sealKey))
        }
    }

    @Test func aSettingFlagMayCarryItsValueAfterAnEqualsSign() async throws {
        let result = try await OperatorCLI(store: "sqlite:/tmp/x.db", keysPath: "/tmp/k.json").run(["config", "check", "--issuer=https://eq.example"])
        #expect(result.status == 0 && reportedSettings(result.stdout)["issuer"] == "https://eq.example", "\(result)")
    }

    // MARK: Unknown names

    @Test func unknownFlagIsAUsageError() async throws {
        let cli = OperatorCLI(store: "sqlite:/tmp/x.db", keysPath: "/tmp/k.json")
        for arguments in [["--no-such-setting", "1"], ["--acces-ttl", "60"], ["--issuer"]] {
            let result = try await cli.run(["config", "check"] + arguments)
            #expect(result.status == 2 && result.stdout.isEmpty, "\(arguments): \(result)")
            #expect(result.stderr.contains(arguments[0]), "\(arguments): \(result)")
        }
        let serve = try await cli.run(["serve", "--no-such-setting", "1"])
        #expect(serve.status == 2 && serve.stderr.contains("--no-such-setting"), "\(serve)")
    }

    @Test func unknownYAMLKeyIsRefusedNamingIt() async throws {
        try await withYAMLFile("issuer: ok\nacces-ttl: 60\n") { path in
            let error = await #expect(throws: ConfigError.self) {
                _ = try await GatewayConfig.load(flags: [:], environment: [:], file: path)
            }
            #expect(error?.setting == "acces-ttl")
            let result = try await OperatorCLI(store: "sqlite:/tmp/x.db", keysPath: "/tmp/k.json").run(["config", "check", "--config", path])
            #expect(result.status == 2 && result.stderr.contains("acces-ttl"), "\(result)")
        }
    }

    // MARK: Precedence

    /// One setting of a kind, with a value for each layer and its default.
    struct PrecedenceCase: Sendable, CustomTestStringConvertible {
        var kind: String
        var name: String
        var flag: String
        var environment: String
        var yaml: String
        var file: String
        var defaultValue: String
        var read: @Sendable (GatewayConfig) -> String
        var testDescription: String { "\(kind) (\(name))" }
    }

    static func reported(_ name: String) -> @Sendable (GatewayConfig) -> String { { $0.reported(name) ?? "?" } }

    static let precedenceCases: [PrecedenceCase] = [
        PrecedenceCase(
            kind: "string", name: "issuer", flag: "flag-iss", environment: "env-iss", yaml: "file-iss", file: "file-iss",
            defaultValue: "authgate", read: reported("issuer")),
        PrecedenceCase(
            kind: "seconds", name: "access-ttl", flag: "30", environment: "40", yaml: "50", file: "50", defaultValue: "900",
            read: reported("access-ttl")),
        PrecedenceCase(
            kind: "integer", name: "pool-size", flag: "3", environment: "4", yaml: "5", file: "5", defaultValue: "1024", read: reported("pool-size")),
        PrecedenceCase(
            kind: "list", name: "trusted-proxies", flag: "10.0.0.1,10.0.0.2", environment: "10.1.0.0/16", yaml: "[10.2.0.1, 10.2.0.2]",
            file: "10.2.0.1/32,10.2.0.2/32", defaultValue: "", read: reported("trusted-proxies")),
        PrecedenceCase(
            kind: "secret", name: "jwt-secret", flag: String(repeating: "f", count: 40), environment: String(repeating: "e", count: 40),
            yaml: String(repeating: "y", count: 40), file: String(repeating: "y", count: 40), defaultValue: "",
            read: { $0.jwtSecret?.value ?? "" }),
        PrecedenceCase(
            kind: "routes", name: "routes", flag: #"[{"prefix":"/flag","upstream":"http://127.0.0.1:1"}]"#,
            environment: #"[{"prefix":"/env","upstream":"http://127.0.0.1:2"}]"#,
            yaml: "\n  - prefix: /file\n    upstream: http://127.0.0.1:3", file: "/file", defaultValue: "",
            read: { $0.routes.map(\.prefix).joined(separator: ",") }),
    ]

    /// flag > env > file > default, for each kind of setting: all three layers, then env and
    /// file, then the file alone, then nothing.
    @Test(arguments: precedenceCases)
    func flagBeatsEnvironmentBeatsFileBeatsDefault(_ setting: PrecedenceCase) async throws {
        func load(flag: Bool, environment: Bool, file: Bool) async throws -> String {
            try await withYAMLFile(file ? "\(setting.name): \(setting.yaml)\n" : "{}\n") { path in
                let config = try await GatewayConfig.load(
                    flags: flag ? [setting.name: setting.flag] : [:],
                    environment: environment ? [GatewaySetting.environmentName(setting.name): setting.environment] : [:], file: path)
                return setting.read(config)
            }
        }
        let flagValue = setting.kind == "routes" ? "/flag" : setting.read(try await GatewayConfig.load(flags: [setting.name: setting.flag], environment: [:], file: nil))
        let environmentValue = setting.kind == "routes" ? "/env" : setting.read(try await GatewayConfig.load(
            flags: [:], environment: [GatewaySetting.environmentName(setting.name): setting.environment], file: nil))
        #expect(flagValue != environmentValue && environmentValue != setting.file && setting.file != setting.defaultValue)
        #expect(try await load(flag: true, environment: true, file: true) == flagValue)
        #expect(try await load(flag: true, environment: false, file: true) == flagValue)
        #expect(try await load(flag: false, environment: true, file: true) == environmentValue)
        #expect(try await load(flag: false, environment: false, file: true) == setting.file)
        #expect(try await load(flag: false, environment: false, file: false) == setting.defaultValue)
    }

    /// The binary with a YAML file, variables and flags at once: each setting comes from the
    /// highest layer that names it, and a setting no layer names keeps its default.
    @Test func configCheckResolvesFlagsOverEnvironmentOverFileOverDefaults() async throws {
        let yaml = """
            issuer: file-iss
            audience: file-aud
            access-ttl: 111
            pool-size: 11
            allowed-origins: [https://file.example]
            routes:
              - prefix: /file
                upstream: http://127.0.0.1:3

            """
        try await withYAMLFile(yaml) { path in
            var cli = OperatorCLI(store: "sqlite:/tmp/precedence.db", keysPath: "/tmp/precedence-keys.json")
            cli.settings.merge([
                "AUTHGATE_ISSUER": "env-iss", "AUTHGATE_ACCESS_TTL": "222", "AUTHGATE_POOL_SIZE": "22",
                "AUTHGATE_ALLOWED_ORIGINS": "https://env.example", "AUTHGATE_ROUTES": #"[{"prefix":"/env","upstream":"http://127.0.0.1:2"}]"#,
                "AUTHGATE_LOGIN_BAN": "45",
            ]) { $1 }
            let all = try await cli.run([
                "config", "check", "--config", path, "--issuer", "flag-iss", "--pool-size", "33", "--allowed-origins", "https://flag.example",
                "--routes", #"[{"prefix":"/flag","upstream":"http://127.0.0.1:1"}]"#, "--store", "sqlite:/tmp/flag.db",
            ])
            try #require(all.status == 0, "\(all)")
            let settings = reportedSettings(all.stdout)
            #expect(settings["issuer"] == "flag-iss")  // flag, env and file
            #expect(settings["pool-size"] == "33")
            #expect(settings["allowed-origins"] == "https://flag.example")
            #expect(settings["store"] == "sqlite:/tmp/flag.db")  // flag over env
            #expect(settings["access-ttl"] == "222")  // env and file
            #expect(settings["login-ban"] == "45")  // env alone
            #expect(settings["audience"] == "file-aud")  // file alone
            #expect(settings["login-window"] == "300" && settings["session-idle-ttl"] == "28800")  // defaults
            #expect(reportedRoutes(all.stdout).map { $0.prefix { $0 != " " } } == ["/flag"])

            // Without flags, the variables win over the file.
            let noFlags = try await cli.run(["config", "check", "--config", path])
            try #require(noFlags.status == 0, "\(noFlags)")
            let fromEnvironment = reportedSettings(noFlags.stdout)
            #expect(fromEnvironment["issuer"] == "env-iss" && fromEnvironment["pool-size"] == "22")
            #expect(fromEnvironment["allowed-origins"] == "https://env.example" && fromEnvironment["audience"] == "file-aud")
            #expect(reportedRoutes(noFlags.stdout).map { $0.prefix { $0 != " " } } == ["/env"])
        }
    }

    /// `authgate serve --help` documents every setting, routes included, by its flag name.
    @Test func serveHelpListsEverySetting() async throws {
        let help = try await OperatorCLI(store: "", keysPath: "").run(["serve", "--help"])
        #expect(help.status == 0, "\(help)")
        for name in GatewaySetting.all.map(\.name) + [GatewaySetting.routes] {
            #expect(help.stdout.contains("--\(name)"), "--\(name) missing from serve --help")
        }
    }
}
