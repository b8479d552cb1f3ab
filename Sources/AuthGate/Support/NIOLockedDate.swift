// NIOLockedDate: a timestamp for "at most once per interval" housekeeping.
import Foundation
import NIOConcurrencyHelpers

final class NIOLockedDate: Sendable {
    private let box = NIOLockedValueBox(Date.distantPast)

    /// True (and resets to now) when the stored time is older than `interval`.
    func exchangeIfOlder(than interval: TimeInterval, now: Date = Date()) -> Bool {
        box.withLockedValue { last in
            guard now.timeIntervalSince(last) >= interval else { return false }
            last = now
            return true
        }
    }
}
