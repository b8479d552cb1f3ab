// ConfigTarget: the `routes` setting as JSON text (flag or AUTHGATE_ROUTES), and whole YAML
// configuration files read the way `serve --config` reads them: settings, then routes.
@testable import AuthGate
import Configuration
import Foundation

enum ConfigTarget {
    static let shotgridURL = "https://sg.example"

    /// One file per process, on tmpfs when there is one: ConfigFile reads a path.
    static let path: String = {
        let folder = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        return "\(folder)/authgate-fuzz-\(getpid()).yaml"
    }()

    static func run(_ input: FuzzInput) {
        var input = input
        if input.bool() {
            routes(text: input.restText())
        } else {
            file(input.rest())
        }
    }

    static func routes(text: String) {
        guard let routes = try? RouteSettings.load(text: text, source: "AUTHGATE_ROUTES", fileValue: nil, defaultTimeout: 10, shotgridURL: shotgridURL) else { return }
        check(routes)
    }

    static func file(_ bytes: [UInt8]) {
        // Foundation's String(contentsOfFile:) leaks 4 KiB on an empty file (swift 6.3.1); an
        // empty file is otherwise just "no settings", so it is left out to keep leak checks on.
        guard !bytes.isEmpty else { return }
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { fatalError("cannot write \(path)") }
        defer { unlink(path) }
        guard let mapping = try? ConfigFile.load(path), let values = try? ConfigFile.values(mapping) else { return }
        let reader = ConfigReader(providers: [InMemoryProvider(name: "file", values: values)])
        guard let config = try? GatewayConfig.resolve(reader) else { return }
        expect((0...65535).contains(config.listenPort), "listen port out of range")
        for seconds in [config.accessTTL, config.sessionIdleTTL, config.sessionMaxTTL, config.upstreamTimeout, config.storeTimeout, config.idleTimeout] {
            expect(seconds.isFinite && seconds > 0, "a duration setting is not a positive number")
        }
        expect(config.poolSize >= 1 && config.loginMaxFailures >= 1, "a count setting below its minimum")
        guard
            let routes = try? RouteSettings.load(
                text: nil, source: "file", fileValue: mapping[GatewaySetting.routes], defaultTimeout: config.upstreamTimeout, shotgridURL: shotgridURL)
        else { return }
        check(routes)
    }

    /// What `serve` relies on once routes are accepted.
    static func check(_ routes: [ProxyRoute]) {
        var prefixes: Set<String> = []
        for route in routes {
            expect(route.prefix.hasPrefix("/"), "prefix without a leading /")
            expect(route.prefix == "/" || !route.prefix.hasSuffix("/"), "prefix with a trailing /")
            expect(!ProxyRoute.isReserved(Substring(route.prefix)), "reserved prefix accepted")
            for reserved in ProxyRoute.reservedPrefixes { expect(!route.matches(Substring(reserved)) || route.prefix == "/", "route \(route.prefix) takes \(reserved)") }
            expect(route.matches(Substring(route.prefix)) && route.matches(Substring(route.prefix + "/x")), "route does not match its own prefix")
            expect(route.timeout.isFinite && route.timeout > 0, "route timeout not positive")
            expect(!route.audience.isEmpty, "empty audience")
            expect(prefixes.insert(route.prefix).inserted, "duplicate prefix accepted")
            switch route.kind {
            case .http:
                let scheme = route.upstream?.scheme?.lowercased()
                expect(scheme == "http" || scheme == "https", "upstream without http(s)")
                expect(route.upstream?.host?.isEmpty == false, "upstream without a host")
            case .shotgrid:
                expect(route.upstream == nil, "shotgrid route with an upstream")
            }
        }
    }
}
