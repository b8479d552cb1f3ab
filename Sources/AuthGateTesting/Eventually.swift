// Eventually: polling for an effect that arrives a little later (a revocation poll, a key
// reload, a reconnect), with a deadline instead of a fixed sleep; and a deadline on any wait.
public import Foundation

/// Calls `produce` every 50 ms until `done` accepts its value or `seconds` pass; returns the last
/// value. On a starved machine (the parallel suite on two shared cores) the deadline stretches
/// by how late this task's own 50 ms sleeps wake, up to 4 × `seconds`: the gateways under test
/// run in this process and wait for the same threads, so their timers are as late as ours. On
/// an idle machine the deadline is `seconds`, as written.
public func eventually<T>(within seconds: TimeInterval, until done: (T) -> Bool, _ produce: () async throws -> T) async throws -> T {
    let start = ContinuousClock.now
    let tick = Duration.milliseconds(50)
    let limit = Duration.seconds(seconds * 4)
    var allowance = Duration.seconds(seconds)
    var value = try await produce()
    while !done(value), start.duration(to: .now) < allowance {
        let slept = ContinuousClock.now
        try await Task.sleep(for: tick)
        let late = slept.duration(to: .now) - tick
        if late > .milliseconds(10) { allowance = min(allowance + late, limit) }
        value = try await produce()
    }
    return value
}

/// An HTTP status that should become `expected` within `seconds`, as in "a revocation reaches
/// every instance within 1 s". Returns the last status seen.
public func statusWithin(_ seconds: TimeInterval, becomes expected: Int, _ request: () async throws -> Int) async throws -> Int {
    try await eventually(within: seconds, until: { $0 == expected }, request)
}

/// `body`'s result, or nil when it has not finished after `seconds` (it is then cancelled): a
/// wait that must fail rather than hang a test.
public func withDeadline<T: Sendable>(seconds: TimeInterval, _ body: @escaping @Sendable () async throws -> T) async throws -> T? {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        defer { group.cancelAll() }
        return try await group.next() ?? nil
    }
}
