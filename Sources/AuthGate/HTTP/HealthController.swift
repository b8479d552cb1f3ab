// HealthController: liveness, readiness and Prometheus metrics.
public import Hummingbird
import HTTPTypes
import NIOCore
public import Prometheus

public struct HealthController: Sendable {
    let readiness: ReadinessProbe
    let registry: PrometheusCollectorRegistry

    public init(readiness: ReadinessProbe, registry: PrometheusCollectorRegistry) {
        self.readiness = readiness
        self.registry = registry
    }

    public func addRoutes(to router: Router<GatewayContext>) {
        router.get("healthz") { _, _ in HealthResponse(status: "ok") }
        router.get("readyz", use: readyz)
        router.get("metrics") { [registry] _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
    }

    /// 503 only when this instance cannot verify tokens (revocation view stale past the
    /// fail-static window); an outage inside it is "degraded" and lists the failing checks.
    @Sendable func readyz(request: Request, context: GatewayContext) async throws -> Response {
        let report = await readiness.report()
        var response = try ReadinessResponse(status: report.status, failing: report.failing).response(from: request, context: context)
        response.status = report.canVerify ? .ok : .serviceUnavailable
        return response
    }
}

extension HealthResponse: ResponseEncodable {}
extension ReadinessResponse: ResponseEncodable {}
