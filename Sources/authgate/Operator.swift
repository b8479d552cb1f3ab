// Operator: the store-facing subcommands (sessions, tokens, users, keys, migrate). They act on
// the store the settings name; running servers see their effect on their next revocation poll.
import ArgumentParser
import AuthGate
import Foundation
import Logging

/// Opens the store, runs `body`, closes it; store outages exit 3.
func withStore<T>(_ options: SettingsOptions, _ body: (any SessionStore, GatewayConfig) async throws -> T) async throws -> T {
    let config = try await operatorConfig(options)
    let store: any SessionStore
    do { store = try GatewayComponents.openStore(config) } catch {
        throw CLIExit(code: CLIExit.storeUnreachable, message: "authgate: cannot open the store: \(error)")
    }
    do {
        let result = try await body(store, config)
        await store.close()
        return result
    } catch {
        await store.close()
        if let error = error as? SessionError {
            if case .invalidRequest(let detail) = error { throw CLIExit(code: CLIExit.usage, message: "authgate: \(detail)") }
            if error == .storeUnavailable { throw CLIExit(code: CLIExit.storeUnreachable, message: "authgate: store unreachable") }
        }
        if let error = error as? StoreError {
            switch error {
            case .unavailable: throw CLIExit(code: CLIExit.storeUnreachable, message: "authgate: store unreachable")
            case .duplicate: throw CLIExit(code: CLIExit.usage, message: "authgate: already exists")
            case .failed(let detail): throw CLIExit(code: CLIExit.storeUnreachable, message: "authgate: store error: \(detail)")
            }
        }
        throw error
    }
}

/// A new password from stdin's first line, or typed at a prompt; never from an argument.
func readPassword(for login: String, fromStdin: Bool) throws -> Secret<String> {
    let password: String
    if fromStdin {
        password = readLine(strippingNewline: true) ?? ""
    } else if isatty(STDIN_FILENO) == 1, let typed = getpass("Password for \(login): ") {
        password = String(decoding: UnsafeRawBufferPointer(start: typed, count: strlen(typed)), as: UTF8.self)
    } else {
        throw CLIExit(code: CLIExit.usage, message: "authgate: use --password-stdin when stdin is not a terminal")
    }
    do { try LocalUsers.check(password: Secret(password)) } catch {
        throw CLIExit(code: CLIExit.usage, message: "authgate: password must be at least \(LocalUsers.minimumPasswordLength) characters")
    }
    return Secret(password)
}

/// The settings, and logging for an operator command: errors and the audit trail only.
func operatorConfig(_ options: SettingsOptions) async throws -> GatewayConfig {
    let config = try await options.load()
    _ = Bootstrap.logging(level: "error", format: config.logFormat)
    return config
}

func printJSON(_ value: some Encodable) throws {
    print(try WireJSONEncoder(prettyPrinted: true).encodeToString(value))
}

/// The revocation policies of the library, acting on the store only (no running server here).
func revoker(_ store: any SessionStore, _ config: GatewayConfig) -> Revoker {
    Revoker(store: store, view: nil, pool: nil, sessionMaxTTL: config.sessionMaxTTL, logger: Logger(label: "authgate.cli"))
}

/// Columns as wide as their longest cell, so whole ids can be copied from the output.
func printTable(_ header: [String], _ rows: [[String]]) {
    let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
    for row in [header] + rows {
        print(zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
    }
}

struct SessionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sessions", abstract: "List and revoke sessions.", subcommands: [List.self, Revoke.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List live sessions.")
        @Option(help: "only this user's sessions (login)") var user: String?
        @Flag(help: "print JSON") var json = false
        @OptionGroup var options: SettingsOptions

        func run() async throws {
            let sessions = try await withStore(options) { store, _ in try await store.sessions(user.map(SessionFilter.login) ?? .all, now: Date()) }
            let listed = sessions.map(SessionListing.init)
            if json { return try printJSON(listed) }
            printTable(
                ["ID", "LOGIN", "CREATED", "LAST SEEN", "CLIENT"],
                listed.map { [$0.id, $0.user.login, $0.created_at.ISO8601Format(), $0.last_seen_at.ISO8601Format(), $0.client_ip] })
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke one session, or every session of a user.")
        @Argument(help: "session id") var sessionID: String?
        @Option(help: "revoke every session of this user (login)") var user: String?
        @OptionGroup var options: SettingsOptions

        func validate() throws {
            guard (sessionID == nil) != (user == nil) else { throw ValidationError("give a session id or --user LOGIN") }
        }

        func run() async throws {
            let revoked = try await withStore(options) { store, config in
                let revoker = revoker(store, config)
                if let user { return try await revoker.revokeSessions(.login(user), by: .operator) }
                let owner = try await store.session(id: sessionID!, now: Date())?.user.login
                return try await revoker.revokeSession(id: sessionID!, by: .operator, user: owner) ? [sessionID!] : []
            }
            guard !revoked.isEmpty else { throw CLIExit(code: CLIExit.notFound, message: "authgate: no live session found") }
            for id in revoked { print("revoked \(id)") }
        }
    }
}

struct TokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tokens", abstract: "Block access tokens.", subcommands: [Revoke.self])

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Block one access token (by jti); its session stays alive.")
        @Argument(help: "the token's jti claim") var jti: String
        @OptionGroup var options: SettingsOptions

        func run() async throws {
            try await withStore(options) { store, config in try await revoker(store, config).blockAccessToken(jti: jti) }
            print("revoked token \(jti)")
        }
    }
}

struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "users", abstract: "Manage local users.", subcommands: [Add.self, SetPassword.self, Remove.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a local user (password read from stdin or prompted).")
        @Argument var login: String
        @Option var email: String?
        @Option var name: String?
        @Flag(help: "read the password from the first line of stdin") var passwordStdin = false
        @OptionGroup var options: SettingsOptions

        func run() async throws {
            let password = try readPassword(for: login, fromStdin: passwordStdin)
            let hasher = PasswordHasher()
            let user = try await withStore(options) { store, _ in
                try await store.migrate()
                return try await LocalUsers(store: store, hasher: hasher).add(login: login, email: email ?? "", name: name ?? "", password: password)
            }
            await hasher.shutdown()
            AuditLog().record(.userAdded, user: login, by: "operator")
            print("added user \(login) (id \(user.id))")
        }
    }

    struct SetPassword: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-password", abstract: "Replace a local user's password and end the sessions opened with the old one.")
        @Argument var login: String
        @Flag(help: "read the password from the first line of stdin") var passwordStdin = false
        @OptionGroup var options: SettingsOptions

        func run() async throws {
            let password = try readPassword(for: login, fromStdin: passwordStdin)
            let hasher = PasswordHasher()
            let changed = try await withStore(options) { store, config in
                guard try await LocalUsers(store: store, hasher: hasher).setPassword(login: login, password: password) else { return false }
                // A reset usually follows a leak: whoever held the old password is signed out.
                try await revoker(store, config).revokeSessions(.login(login), by: .operator)
                return true
            }
            await hasher.shutdown()
            guard changed else { throw CLIExit(code: CLIExit.notFound, message: "authgate: no user \(login)") }
            AuditLog().record(.passwordChanged, user: login, by: "operator")
            print("updated \(login); their sessions ended")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a local user and revoke their sessions.")
        @Argument var login: String
        @OptionGroup var options: SettingsOptions

        func run() async throws {
            let removed = try await withStore(options) { store, config in try await revoker(store, config).removeUser(login: login) }
            guard removed else { throw CLIExit(code: CLIExit.notFound, message: "authgate: no user \(login)") }
            print("removed user \(login)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List local users.")
        @Flag(help: "print JSON") var json = false
        @OptionGroup var options: SettingsOptions

        func run() async throws {
            let users = try await withStore(options) { store, _ in
                try await store.migrate()
                return try await store.users()
            }
            let listed = users.map(UserListing.init)
            if json { return try printJSON(listed) }
            printTable(["LOGIN", "EMAIL", "NAME", "CREATED"], listed.map { [$0.login, $0.email, $0.name, $0.created_at.ISO8601Format()] })
        }
    }
}

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "keys", abstract: "Create, rotate, list and retire keys.", subcommands: [Init.self, Rotate.self, List.self, Retire.self])

    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create the key ring file (0600).")
        @OptionGroup var options: SettingsOptions

        func run() async throws {
            let config = try await operatorConfig(options)
            guard !FileManager.default.fileExists(atPath: config.keysPath) else {
                throw CLIExit(code: CLIExit.usage, message: "authgate: \(config.keysPath) already exists; use keys rotate")
            }
            try KeyRingFile.write(KeyRing.generate(), path: config.keysPath)
            print("created \(config.keysPath)")
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add new active keys; old keys still verify and open. Running servers take them up within a second.")
        @Flag(help: "also seal every stored upstream token again under the new sealing key (nobody is signed out)") var reseal = false
        @OptionGroup var options: SettingsOptions

        func run() async throws {
            let config = try await operatorConfig(options)
            let rotated = try loadRing(config).rotated()
            try KeyRingFile.write(rotated, path: config.keysPath)
            AuditLog().record(
                .keysRotated, by: "operator",
                details: ["signing_key": .string(rotated.activeSigningKeyID), "sealing_key": .string(rotated.activeSealingKeyID)])
            print("rotated: signing key \(rotated.activeSigningKeyID), sealing key \(rotated.activeSealingKeyID)")
            guard reseal else { return }
            let outcome = try await withStore(options) { store, _ in
                try await Resealer(store: store, keys: rotated, logger: Logger(label: "authgate.cli")).resealAll()
            }
            print("resealed \(outcome.resealed) sessions (\(outcome.current) already current, \(outcome.unreadable) unreadable)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the keys: id, use, created, retired (no key material).")
        @Flag(help: "print JSON") var json = false
        @OptionGroup var options: SettingsOptions

        func run() async throws {
            let ring = try loadRing(try await operatorConfig(options))
            let listed = KeyListing.of(ring)
            if json { return try printJSON(listed) }
            func date(_ value: Date?) -> String { value.map(RFC3339.format) ?? "-" }
            printTable(
                ["ID", "USE", "CREATED", "RETIRED", "ACTIVE"],
                listed.map { [$0.id, $0.use, date($0.created), date($0.retired), $0.active ? "yes" : ""] })
        }
    }

    struct Retire: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Retire a key: it neither verifies nor opens any more (run keys rotate --reseal first for a sealing key).")
        @Argument(help: "the key id") var kid: String
        @OptionGroup var options: SettingsOptions

        func run() async throws {
            let config = try await operatorConfig(options)
            let ring = try loadRing(config)
            let retired: KeyRing
            do { retired = try ring.retiring(kid) } catch {
                if case .notFound = error { throw CLIExit(code: CLIExit.notFound, message: "authgate: \(error)") }
                throw CLIExit(code: CLIExit.usage, message: "authgate: \(error)")
            }
            try KeyRingFile.write(retired, path: config.keysPath)
            AuditLog().record(.keyRetired, by: "operator", details: ["key": .string(kid)])
            print("retired key \(kid)")
        }
    }
}

/// The key ring file the settings name; missing or invalid exits 1 or 2.
func loadRing(_ config: GatewayConfig) throws -> KeyRing {
    do { return try KeyRingFile.load(path: config.keysPath) } catch {
        if case .io = error { throw CLIExit(code: CLIExit.notFound, message: "authgate: \(error)") }
        throw CLIExit(code: CLIExit.usage, message: "authgate: \(error)")
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create the store's collections/tables and indexes (idempotent).")
    @OptionGroup var options: SettingsOptions

    func run() async throws {
        try await withStore(options) { store, _ in try await store.migrate() }
        print("migrated")
    }
}

struct BansCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bans", abstract: "List and lift sign-in bans.", subcommands: [List.self, Clear.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the bans in force (user:LOGIN and ip:ADDRESS keys).")
        @Flag(help: "print JSON") var json = false
        @OptionGroup var options: SettingsOptions

        func run() async throws {
            let bans = try await withStore(options) { store, _ in
                try await store.migrate()
                return try await store.loginBans(now: Date())
            }
            if json { return try printJSON(bans) }
            printTable(["KEY", "UNTIL"], bans.map { [$0.key, RFC3339.format($0.until)] })
        }
    }

    struct Clear: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lift one ban, or every ban.")
        @Argument(help: "the banned key, e.g. user:alice or ip:203.0.113.7") var key: String?
        @Flag(help: "lift every ban") var all = false
        @OptionGroup var options: SettingsOptions

        func validate() throws {
            guard (key == nil) != !all else { throw ValidationError("give a key or --all") }
        }

        func run() async throws {
            let lifted = try await withStore(options) { store, _ in try await store.clearLoginBans(key: all ? nil : key, now: Date()) }
            guard lifted > 0 else { throw CLIExit(code: CLIExit.notFound, message: "authgate: no such ban") }
            AuditLog().record(.banCleared, by: "operator", details: ["key": .string(all ? "*" : key ?? "")])
            print("lifted \(lifted) ban\(lifted == 1 ? "" : "s")")
        }
    }
}
