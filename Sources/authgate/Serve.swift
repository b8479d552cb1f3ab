// Serve: `authgate serve`: runs the gateway until SIGTERM or SIGINT.
import ArgumentParser
import AuthGate
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the gateway.")

    @OptionGroup var options: SettingsOptions

    func run() async throws {
        let config = try await options.load()
        let logger = Bootstrap.logging(level: config.logLevel, format: config.logFormat)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        for warning in config.warnings { logger.warning("\(warning)") }
        let keys = try loadKeys(config, logger: logger)
        let components: GatewayComponents
        do {
            components = try await GatewayComponents(config: config, keys: keys, logger: logger, registry: registry)
        } catch {
            throw CLIExit(code: CLIExit.storeUnreachable, message: "authgate: cannot open the store: \(error)")
        }
        let app = Gateway.buildApplication(components) { port in
            logger.notice("authgate listening", metadata: ["authgate.address": "\(config.listenHost):\(port)", "authgate.store": "\(ConfigReport.redactedStore(config.store))", "authgate.provider": "\(config.provider)"])
        }
        try await app.runService()
    }
}

func loadKeys(_ config: GatewayConfig, logger: Logger) throws -> KeyRing {
    do {
        let (ring, created) = try KeyRingFile.loadOrCreate(path: config.keysPath, jwtSecret: config.jwtSecret, sealKey: config.sealKey)
        if created { logger.notice("created key ring", metadata: ["authgate.keys.path": "\(config.keysPath)"]) }
        return ring
    } catch {
        throw CLIExit(code: CLIExit.usage, message: "authgate: \(error)")
    }
}
