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
        var container = encoder.container(keyedBy: DynamicKey.self)
        try container.encode(status, forKey: DynamicKey("status"))
        var checks = container.nestedContainer(keyedBy: DynamicKey.self, forKey: DynamicKey("checks"))
        for name in failing { try checks.encode("failing", forKey: DynamicKey(name)) }
    }

    struct DynamicKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
