// HTTPUpstreamConnections: the channel-level proxy's keep-alive connections to `kind: http`
// upstreams, one set per event loop: a client connection takes an idle one of its own loop (or
// opens one there) and gives it back when the answer is complete, as nginx's upstream keepalive
// does per worker.
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// The idle connections of one event loop; touched only on that loop.
final class HTTPUpstreamConnections {
    let eventLoop: any EventLoop
    private var idle: [UpstreamTarget: [HTTPUpstreamConnection]] = [:]
    private var isShutDown = false
    /// Idle connections kept per upstream and loop; more are closed when given back.
    static let maxIdlePerTarget = 64
    static let connectTimeout = TimeAmount.seconds(5)
    /// How long a connection waits in the pool, and how long an answer may pause (with
    /// HTTPUpstreamConnection's strikes), before it is closed.
    static let idleTimeout = TimeAmount.seconds(60)

    init(eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    /// An idle connection to `target`, if one is still open.
    func take(_ target: UpstreamTarget) -> HTTPUpstreamConnection? {
        while let connection = idle[target]?.popLast() {
            connection.pool = nil
            if connection.isActive { return connection }
        }
        return nil
    }

    /// A connection whose exchange completed cleanly: kept for the next request, or closed.
    func giveBack(_ connection: HTTPUpstreamConnection) {
        connection.exchange = nil
        guard !isShutDown, connection.isActive, idle[connection.target, default: []].count < Self.maxIdlePerTarget else {
            return connection.close()
        }
        connection.pool = self
        idle[connection.target, default: []].append(connection)
        // An idle connection keeps reading, so that the upstream closing it is seen.
        connection.resumeReading()
    }

    /// A pooled connection that closed (the upstream's keep-alive ran out, or the pool idle timeout).
    func remove(_ connection: HTTPUpstreamConnection) {
        connection.pool = nil
        idle[connection.target]?.removeAll { $0 === connection }
    }

    /// Opens a connection to `target` on this loop.
    func connect(_ target: UpstreamTarget, then completion: @escaping (Result<HTTPUpstreamConnection, any Error>) -> Void) {
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(Self.connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: Self.idleTimeout))
                    try channel.pipeline.syncOperations.addHandler(HTTPUpstreamConnection(target: target))
                }
            }
        // An address needs no resolver round trip.
        let connected =
            if let address = try? SocketAddress(ipAddress: target.host, port: target.port) {
                bootstrap.connect(to: address)
            } else {
                bootstrap.connect(host: target.host, port: target.port)
            }
        connected
            .assumeIsolated()
            .whenComplete { result in
                completion(result.flatMap { channel in Result { try channel.pipeline.syncOperations.handler(type: HTTPUpstreamConnection.self) } })
            }
    }

    func shutDown() {
        isShutDown = true
        let all = idle.values.flatMap { $0 }
        idle = [:]
        for connection in all { connection.close() }
    }
}

/// Every loop's HTTPUpstreamConnections, made on first use.
final class HTTPUpstreamPools: Sendable {
    private let pools = NIOLockedValueBox<[ObjectIdentifier: NIOLoopBound<HTTPUpstreamConnections>]>([:])

    /// The calling loop's connections (called once per client connection, on its loop).
    func connections(on eventLoop: any EventLoop) -> HTTPUpstreamConnections {
        let key = ObjectIdentifier(eventLoop)
        return pools.withLockedValue { pools in
            if let found = pools[key] { return found.value }
            let made = HTTPUpstreamConnections(eventLoop: eventLoop)
            pools[key] = NIOLoopBound(made, eventLoop: eventLoop)
            return made
        }
    }

    /// Closes every idle connection and keeps no more (the gateway is stopping).
    func shutDown() async {
        let all = pools.withLockedValue { Array($0.values) }
        for bound in all {
            try? await bound.eventLoop.submit { bound.value.shutDown() }.get()
        }
    }
}
