// Settings: turns `--name value` flags into the configuration reader's highest layer. Every
// setting of GatewaySetting.all is accepted by every command, so the CLI and `serve` always
// name the same store and keys.
import ArgumentParser
import AuthGate
import Foundation
import Logging
import Synchronization

struct SettingsOptions: ParsableArguments {
    @Option(help: "YAML configuration file (AUTHGATE_CONFIG)")
    var config: String?

    @Argument(
        parsing: .allUnrecognized,
        help: ArgumentHelp(
            "Settings as --NAME VALUE; each is also AUTHGATE_NAME and a YAML key.",
            discussion: (GatewaySetting.all.map { "--\($0.name): \($0.help)" }
                + ["--\(GatewaySetting.routes): reverse-proxy routes, a JSON list (in the YAML file, a list)"]).joined(separator: "\n")))
    var settings: [String] = []

    func flags() throws -> [String: String] {
        var flags: [String: String] = [:]
        var remaining = settings[...]
        let known = Set(GatewaySetting.all.map(\.name) + [GatewaySetting.routes])
        while let argument = remaining.popFirst() {
            guard argument.hasPrefix("--") else { throw ValidationError("unexpected argument \(argument)") }
            var name = String(argument.dropFirst(2))
            var value: String?
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard known.contains(name) else { throw ValidationError("unknown option --\(name)") }
            if value == nil { value = remaining.popFirst() }
            guard let value else { throw ValidationError("--\(name) needs a value") }
            flags[name] = value
        }
        return flags
    }

    func load() async throws -> GatewayConfig {
        do {
            let flags = try flags()
            warnAboutSecrets(in: flags)
            return try await GatewayConfig.load(flags: flags, file: config)
        } catch let error as ConfigError {
            throw CLIExit(code: CLIExit.usage, message: "authgate: \(error)")
        }
    }
}

/// Flags are visible to every user of the machine (`ps`, /proc): secrets belong in the
/// environment, a file or the key ring. Said on stderr, before any logging is set up.
func warnAboutSecrets(in flags: [String: String]) {
    var named: [String] = []
    for setting in GatewaySetting.all where setting.kind == .secret && flags[setting.name] != nil {
        named.append("--\(setting.name) (use \(GatewaySetting.environmentName(setting.name)) or the key ring)")
    }
    if let store = flags["store"], store.range(of: #"://[^/@]*:[^/@]*@"#, options: .regularExpression) != nil {
        named.append("a password in --store (use AUTHGATE_STORE or the configuration file)")
    }
    for item in named {
        FileHandle.standardError.write(Data("authgate: warning: \(item): command lines are visible to other users of this machine\n".utf8))
    }
}

enum Bootstrap {
    /// Logging once per process, to stderr, at the configured level and format; every line of a
    /// request carries its id.
    /// swift-log allows one bootstrap per process; a command that reads its settings twice
    /// (keys rotate --reseal, then the store) must not trap on the second.
    private static let bootstrapped = Mutex(false)

    static func logging(level: String, format: String = "text") -> Logger {
        let parsed = Logger.Level(rawValue: level) ?? .info
        let chosen = GatewayLogHandler.Format(rawValue: format) ?? .text
        let first = bootstrapped.withLock { done in
            defer { done = true }
            return !done
        }
        if first { bootstrap(level: parsed, format: chosen) }
        var logger = Logger(label: "authgate")
        logger.logLevel = parsed
        return logger
    }

    private static func bootstrap(level parsed: Logger.Level, format chosen: GatewayLogHandler.Format) {
        LoggingSystem.bootstrap(
            { label, provider in
                // Audit lines are written whatever the level: an operator's command is always recorded.
                let level = label == "authgate.audit" ? min(parsed, .notice) : parsed
                return GatewayLogHandler(label: label, format: chosen, level: level, metadataProvider: provider)
            },
            metadataProvider: RequestScope.metadataProvider)
    }
}
