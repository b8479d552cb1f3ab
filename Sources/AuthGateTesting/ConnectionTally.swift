// ConnectionTally: counts the distinct TCP connections that brought requests to a test server,
// so a test can tell a reused keep-alive connection from a new one per request.
import Hummingbird
import NIOCore
import Synchronization

final class ConnectionTally: Sendable {
    private struct Seen {
        /// Retained on purpose: a live channel's ObjectIdentifier cannot be reused by a new one.
        var channels: [ObjectIdentifier: (ordinal: Int, channel: any Channel)] = [:]
    }

    private let seen = Mutex(Seen())

    /// The connection's ordinal (1 for the first connection seen), registering it on first use.
    func ordinal(of channel: any Channel) -> Int {
        self.seen.withLock { seen in
            let key = ObjectIdentifier(channel)
            if let known = seen.channels[key] { return known.ordinal }
            let ordinal = seen.channels.count + 1
            seen.channels[key] = (ordinal, channel)
            return ordinal
        }
    }

    var count: Int { self.seen.withLock { $0.channels.count } }

    /// How many of them are still open.
    var open: Int { self.seen.withLock { $0.channels.values.filter { $0.channel.isActive }.count } }

    func reset() {
        self.seen.withLock { $0.channels.removeAll() }
    }
}

/// Request context that keeps the connection's channel: to count connections and to close one
/// on purpose.
struct ChannelRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }
}
