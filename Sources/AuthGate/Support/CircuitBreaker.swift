// CircuitBreaker: after `threshold` failures in a row, an upstream is presumed down for
// `cooldown`: callers are answered at once (503) instead of each waiting out a timeout. After
// the cooldown one trial call goes through; its success closes the circuit, its failure opens it
// again. Credentials refused are not failures: ShotGrid answered.
public import Foundation
import Metrics
import NIOConcurrencyHelpers

public final class CircuitBreaker: Sendable {
    public enum State: Sendable, Equatable {
        case closed
        case open(until: Date)
        /// One trial call is out; others are refused until it reports.
        case halfOpen
    }

    private struct Counters {
        var state: State = .closed
        var consecutiveFailures = 0
    }

    let name: String
    let threshold: Int
    let cooldown: TimeInterval
    private let counters = NIOLockedValueBox(Counters())
    private let openGauge: Gauge
    private let openedCounter: Counter

    public init(name: String, threshold: Int = 5, cooldown: TimeInterval = 10) {
        self.name = name
        self.threshold = threshold
        self.cooldown = cooldown
        openGauge = Gauge(label: "authgate_circuit_open", dimensions: [("upstream", name)])
        openedCounter = Counter(label: "authgate_circuit_opened_total", dimensions: [("upstream", name)])
    }

    public var state: State { counters.withLockedValue { $0.state } }

    /// Whether the upstream is presumed down right now (for /readyz).
    public func isOpen(now: Date = Date()) -> Bool {
        if case .open(let until) = state { return now < until }
        return false
    }

    /// Whether a call may go out now; false means answer 503 at once.
    public func allow(now: Date = Date()) -> Bool {
        counters.withLockedValue { counters in
            switch counters.state {
            case .closed: return true
            case .halfOpen: return false
            case .open(let until):
                guard now >= until else { return false }
                counters.state = .halfOpen
                return true
            }
        }
    }

    public func recordSuccess() {
        let closed = counters.withLockedValue { counters -> Bool in
            counters.consecutiveFailures = 0
            guard counters.state != .closed else { return false }
            counters.state = .closed
            return true
        }
        if closed { openGauge.record(0) }
    }

    /// Runs `call` if the circuit lets it, counting how it went: `isFailure` tells an outage
    /// (unreachable, timed out, 5xx) from an answer (even a refusal). Refused calls throw `refused`.
    func run<T>(refused: @autoclosure () -> any Error, isFailure: (any Error) -> Bool, _ call: () async throws -> T) async throws -> T {
        guard allow() else { throw refused() }
        do {
            let result = try await call()
            recordSuccess()
            return result
        } catch {
            if isFailure(error) { recordFailure() } else { recordSuccess() }
            throw error
        }
    }

    public func recordFailure(now: Date = Date()) {
        let opened = counters.withLockedValue { counters -> Bool in
            counters.consecutiveFailures += 1
            let trialFailed = counters.state == .halfOpen
            guard trialFailed || (counters.state == .closed && counters.consecutiveFailures >= threshold) else { return false }
            counters.state = .open(until: now.addingTimeInterval(cooldown))
            return true
        }
        if opened {
            openGauge.record(1)
            openedCounter.increment()
        }
    }
}
