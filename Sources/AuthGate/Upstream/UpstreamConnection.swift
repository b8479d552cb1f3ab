// UpstreamConnection: one session's link to its identity provider: a libcurl handle (and so its
// kept-alive connection) plus the session's unsealed upstream tokens, in memory only.
import Foundation
import NIOConcurrencyHelpers

public final class UpstreamConnection: Sendable {
    let easy: CurlEasy
    private let state: NIOLockedValueBox<UpstreamTokens?>
    /// One request at a time per handle: libcurl easy handles are not thread-safe.
    private let inUse = NIOLock()

    init(timeout: TimeInterval, tokens: UpstreamTokens? = nil) {
        easy = CurlEasy(timeout: timeout)
        state = NIOLockedValueBox(tokens)
    }

    public var tokens: UpstreamTokens? {
        get { state.withLockedValue { $0 } }
    }

    func setTokens(_ tokens: UpstreamTokens) { state.withLockedValue { $0 = tokens } }

    /// Runs a blocking request on the handle; call from a BlockingPool thread.
    func perform(method: String, url: String, headers: [String] = [], body: [UInt8]? = nil) throws(CurlError) -> HTTPResult {
        inUse.lock()
        defer { inUse.unlock() }
        return try easy.perform(method: method, url: url, headers: headers, body: body)
    }

    func close() {
        inUse.withLock { easy.close() }
    }
}
