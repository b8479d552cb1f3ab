// HealthResponses: the bodies of /healthz and /readyz.

struct HealthResponse: Encodable {
    var status: String
}

/// `/readyz`: `{"status": "ok"|"degraded"|"unavailable", "checks": {"store": "failing", …}}`.
struct ReadinessResponse: Encodable {
    var status: String
    /// Failing checks by name, in a stable order.
    var failing: [String]

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: DynamicCodingKey.self)
        try container.encode(status, forKey: DynamicCodingKey("status"))
        var checks = container.nestedContainer(keyedBy: DynamicCodingKey.self, forKey: DynamicCodingKey("checks"))
        for name in failing { try checks.encode("failing", forKey: DynamicCodingKey(name)) }
    }
}
