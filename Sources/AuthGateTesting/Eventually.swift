// Eventually: polling for an effect that arrives a little later (a revocation poll, a key
// reload, a reconnect), with a deadline instead of a fixed sleep.
public import Foundation

/// Calls `produce` every 50 ms until `done` accepts its value or `seconds` pass; returns the last value.
public func eventually<T>(within seconds: TimeInterval, until done: (T) -> Bool, _ produce: () async throws -> T) async throws -> T {
    let deadline = Date().addingTimeInterval(seconds)
    var value = try await produce()
    while !done(value), Date() < deadline {
        try await Task.sleep(for: .milliseconds(50))
        value = try await produce()
    }
    return value
}

/// An HTTP status that should become `expected` within `seconds`, as in "a revocation reaches
/// every instance within 1 s". Returns the last status seen.
public func statusWithin(_ seconds: TimeInterval, becomes expected: Int, _ request: () async throws -> Int) async throws -> Int {
    try await eventually(within: seconds, until: { $0 == expected }, request)
}
