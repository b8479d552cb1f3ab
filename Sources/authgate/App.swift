// authgate: the executable: `serve` and the operator CLI. All logic lives in AuthGate.
import ArgumentParser
import AuthGate
import Foundation
import Logging

@main
struct Main {
    static func main() async {
        do {
            var command = try AuthGateCommand.parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let exit as CLIExit {
            if !exit.message.isEmpty { FileHandle.standardError.write(Data((exit.message + "\n").utf8)) }
            Foundation.exit(exit.code)
        } catch {
            // Help and --version exit 0 as ArgumentParser prints them; any other parse error is usage (2).
            if AuthGateCommand.exitCode(for: error) == .success { AuthGateCommand.exit(withError: error) }
            if error is ExitCode { AuthGateCommand.exit(withError: error) }
            FileHandle.standardError.write(Data((AuthGateCommand.fullMessage(for: error) + "\n").utf8))
            Foundation.exit(CLIExit.usage)
        }
    }
}

struct AuthGateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "authgate",
        abstract: "An authentication gateway: sign in once, get a short-lived JWT and a rotating refresh token.",
        subcommands: [Serve.self, SessionsCommand.self, TokensCommand.self, UsersCommand.self, KeysCommand.self, BansCommand.self, Migrate.self, ConfigCommand.self],
        defaultSubcommand: Serve.self)
}

/// Exit codes of the contract: 0 done, 1 not found, 2 usage, 3 store unreachable.
struct CLIExit: Error {
    static let notFound: Int32 = 1
    static let usage: Int32 = 2
    static let storeUnreachable: Int32 = 3

    var code: Int32
    var message: String
}
