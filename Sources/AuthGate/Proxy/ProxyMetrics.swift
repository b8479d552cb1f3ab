// ProxyMetrics: authgate_proxy_requests_total{route,status}, with `route` the route's prefix (a
// bounded set, never a raw path). Counters are made once per label pair and kept.
import Metrics
import NIOConcurrencyHelpers

final class ProxyMetrics: Sendable {
    private let counters = NIOLockedValueBox<[String: Counter]>([:])

    func record(route: String, status: Int) {
        let key = route + " " + String(status)
        let counter = counters.withLockedValue { counters in
            if let existing = counters[key] { return existing }
            let made = Counter(label: "authgate_proxy_requests_total", dimensions: [("route", route), ("status", String(status))])
            counters[key] = made
            return made
        }
        counter.increment()
    }
}
