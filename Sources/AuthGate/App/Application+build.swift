// Application+build: the gateway's Hummingbird application: router, middleware, background
// services, and what runs before the server accepts requests.
public import Hummingbird
import Foundation
import ServiceLifecycle

public enum Gateway {
    public static func buildRouter(_ components: GatewayComponents) -> Router<GatewayContext> {
        let router = Router(context: GatewayContext.self)
        let origins = OriginPolicy(allowedOrigins: components.config.allowedOrigins)
        router.add(middleware: RequestIDMiddleware())
        // Outside ErrorMiddleware, so error answers carry CORS headers too (a page must be able to
        // read a 401); and, like every router middleware, also around the proxy, which answers
        // only unmatched paths: a preflight for a proxied path is answered here, never a 401.
        router.add(middleware: CORSMiddleware(origins: origins))
        router.add(middleware: ErrorMiddleware(routes: components.config.routes))
        router.add(middleware: RequestMetricsMiddleware())
        HealthController(readiness: components.readiness, registry: components.registry).addRoutes(to: router)
        let auth = router.group("auth")
        AuthController(
            login: components.loginFlow, refresh: components.refreshFlow, directory: components.directory, verifier: components.verifier,
            origins: origins, clientAddress: components.clientAddress
        ).addRoutes(to: auth)
        VerifyController(verifier: components.verifier).addRoutes(to: auth)
        // Added last, so it wraps only what no route above answers: the gateway's own routes
        // never pay for it.
        if !components.config.routes.isEmpty {
            router.add(
                middleware: ProxyMiddleware(
                    routes: components.config.routes, verifier: components.verifier, issuer: components.issuer,
                    http: components.httpForwarder, shotgrid: components.shotgridForwarder, clientAddress: components.clientAddress))
        }
        return router
    }

    public static func buildApplication(
        _ components: GatewayComponents, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let config = components.config
        let sync = RevocationSync(
            store: components.store, view: components.revocations, pool: components.pool, cache: components.sessionCache,
            interval: config.revocationPollInterval,
            logger: components.logger)
        var app = Application(
            router: buildRouter(components),
            // Slow or idle clients (a slowloris sending headers a byte at a time) are cut off.
            server: .gatewayHTTP1(
                idleTimeout: .milliseconds(Int64(config.idleTimeout * 1000)), proxy: components.channelProxy,
                verify: ChannelVerifyResponder(verifier: components.verifier, origins: OriginPolicy(allowedOrigins: config.allowedOrigins))),
            configuration: .init(
                address: .hostname(config.listenHost, port: config.listenPort), serverName: ChannelVerifyResponder.serverName),
            services: [ShutdownService(components: components), sync, PoolSweeper(pool: components.pool), components.keyReloader, components.httpForwarder],
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: components.logger)
        app.beforeServerStarts {
            try await components.store.migrate()
            // Verify only once the revocation view is loaded.
            try await sync.poll(cursor: nil)
        }
        return app
    }
}

/// Closes the store, provider and pool after the server has stopped (services shut down in
/// reverse order, and this one is first).
struct ShutdownService: Service {
    let components: GatewayComponents

    func run() async throws {
        try? await gracefulShutdown()
        await components.shutdown()
    }
}

/// Drops upstream connections idle past AUTHGATE_POOL_IDLE.
struct PoolSweeper: Service {
    let pool: UpstreamPool

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(max(1, min(30, pool.idleTimeout / 4))))
                pool.sweep()
            }
        }
    }
}
