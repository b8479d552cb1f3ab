// UpstreamConnection: one session's link to ShotGrid: a libcurl handle (and so its kept-alive
// TCP/TLS connection) plus the session's unsealed upstream tokens, in memory only.
import Foundation
import NIOConcurrencyHelpers
import Synchronization

public final class UpstreamConnection: Sendable {
    let easy: CurlEasy
    private let state: NIOLockedValueBox<State>
    /// One exchange at a time per handle: libcurl easy handles are not thread-safe.
    private let handle = Mutex<Void>(())

    private struct State {
        var tokens: UpstreamTokens?
        /// Closed while an exchange held the handle: the exchange closes it when it ends.
        var closeRequested = false
        /// The renewal in progress, which concurrent callers join instead of starting their own.
        var renewal: Task<UpstreamTokens, any Error>?
    }

    init(timeout: TimeInterval, tokens: UpstreamTokens? = nil) {
        easy = CurlEasy(timeout: timeout)
        state = NIOLockedValueBox(State(tokens: tokens))
    }

    public var tokens: UpstreamTokens? { state.withLockedValue { $0.tokens } }

    func setTokens(_ tokens: UpstreamTokens) { state.withLockedValue { $0.tokens = tokens } }

    /// Runs a blocking request on the handle, waiting for it if busy; call from a BlockingPool thread.
    func perform(method: String, url: String, headers: [String] = [], body: [UInt8]? = nil) throws(CurlError) -> HTTPResult {
        try handle.withLock { _ throws(CurlError) in try easy.perform(method: method, url: url, headers: headers, body: body) }
    }

    /// Runs `body` with the handle if no other exchange holds it; nil if one does (the caller then
    /// uses a one-off handle rather than wait behind a long download).
    func withHandleIfFree<T>(_ body: (CurlEasy) throws -> T) rethrows -> T? {
        let result = try handle.withLockIfAvailable { _ in try body(easy) }
        if result != nil, state.withLockedValue({ $0.closeRequested }) { close() }
        return result
    }

    /// Joins the renewal in progress, or starts `renew` as the one every caller waits for.
    func renewOnce(_ renew: @escaping @Sendable () async throws -> UpstreamTokens) async throws -> UpstreamTokens {
        let task = state.withLockedValue { state -> Task<UpstreamTokens, any Error> in
            if let running = state.renewal { return running }
            let task = Task { try await renew() }
            state.renewal = task
            return task
        }
        defer { state.withLockedValue { if $0.renewal == task { $0.renewal = nil } } }
        return try await task.value
    }

    /// Drops the token from memory at once and closes the connection, now or, while an exchange
    /// is running on it, when that exchange ends (never blocking the caller behind a download).
    func close() {
        state.withLockedValue {
            $0.tokens = nil
            $0.closeRequested = true
        }
        _ = handle.withLockIfAvailable { _ in easy.close() }
    }
}
