// HealthController: liveness, readiness and Prometheus metrics.
public import Hummingbird
import Foundation
import HTTPTypes
import NIOCore
import Prometheus

struct HealthController: Sendable {
    let service: SessionService
    let registry: PrometheusCollectorRegistry

    func addRoutes(to router: Router<GatewayContext>) {
        router.get("healthz") { _, _ in Self.json(#"{"status":"ok"}"#, status: .ok) }
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
        async let storeCheck: String? = Self.failure { try await service.store.ping() }
        async let providerCheck: String? = Self.failure { try await service.provider.check() }
        let failing = [("store", await storeCheck), ("provider", await providerCheck)].compactMap { name, error in
            error.map { _ in name }
        }
        let canVerify = service.revocations.isFresh(now: Date(), failStatic: service.config.storeFailStatic)
        let status = !canVerify ? "unavailable" : (failing.isEmpty ? "ok" : "degraded")
        let checks = (canVerify ? failing : failing + ["revocation_view"]).map { #""\#($0)":"failing""# }.joined(separator: ",")
        return Self.json(#"{"status":"\#(status)","checks":{\#(checks)}}"#, status: canVerify ? .ok : .serviceUnavailable)
    }

    static func failure(_ body: () async throws -> Void) async -> String? {
        do {
            try await body()
            return nil
        } catch {
            return "\(error)"
        }
    }

    static func json(_ body: String, status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
