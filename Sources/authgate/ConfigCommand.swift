// ConfigCommand: `authgate config check`: reads the settings as `serve` would and prints them,
// secrets redacted; an invalid setting or route exits 2 with the message that names it.
import ArgumentParser
import AuthGate
import Foundation

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "config", abstract: "Inspect the configuration.", subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the effective settings and routes (secrets redacted); exit 2 if one is invalid.")
        @OptionGroup var options: SettingsOptions

        func run() async throws {
            let config = try await options.load()
            let settings = ConfigReport.settings(config)
            let width = settings.map(\.name.count).max() ?? 0
            for (name, value) in settings { print(name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + value) }
            let routes = ConfigReport.routes(config)
            print(routes.isEmpty ? "routes: none" : "routes:")
            for route in routes { print("  " + route) }
        }
    }
}
