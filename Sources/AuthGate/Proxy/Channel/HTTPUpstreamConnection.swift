// HTTPUpstreamConnection: one keep-alive HTTP/1.1 connection of the channel-level proxy to a
// `kind: http` upstream. It lives on the event loop of the client connections it serves, so an
// exchange passes parts between the two channels by plain calls: no locks, no thread hops.
import NIOCore
import NIOHTTP1

final class HTTPUpstreamConnection: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    let target: UpstreamTarget
    /// The client exchange this connection serves now; nil while it waits in the pool.
    weak var exchange: ProxyChannelHandler?
    /// Set while the connection waits in the pool, so a close takes it out.
    weak var pool: HTTPUpstreamConnections?
    private var context: ChannelHandlerContext?
    /// A read the client's backpressure held back.
    private var heldRead = false
    /// Read-idle periods in a row while an answer streams.
    private var idleStrikes = 0
    /// An answer that stops for this many read-idle periods (60 s each) is given up.
    private static let maxIdleStrikes = 5

    init(target: UpstreamTarget) { self.target = target }

    var isActive: Bool { context?.channel.isActive ?? false }
    var isWritable: Bool { context?.channel.isWritable ?? false }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func send(_ part: HTTPClientRequestPart) {
        context?.write(wrapOutboundOut(part), promise: nil)
    }

    func flush() { context?.flush() }

    /// Reads again once the client takes more of the answer.
    func resumeReading() {
        guard heldRead, let context else { return }
        heldRead = false
        context.read()
    }

    func close() {
        exchange = nil
        context?.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        idleStrikes = 0
        // Bytes on an idle connection answer nothing we asked: it cannot be trusted any more.
        guard let exchange else { return context.close(promise: nil) }
        switch unwrapInboundIn(data) {
        case .head(let head): exchange.upstreamHead(head)
        case .body(let buffer): exchange.upstreamBody(buffer)
        case .end: exchange.upstreamEnd()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        exchange?.upstreamReadComplete()
    }

    /// Backpressure: the answer is read only as fast as the client takes it.
    func read(context: ChannelHandlerContext) {
        if let exchange, !exchange.clientIsWritable {
            heldRead = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { exchange?.upstreamBecameWritable() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        pool?.remove(self)
        let exchange = self.exchange
        self.exchange = nil
        exchange?.upstreamFailed(self, detail: "the upstream closed the connection")
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let exchange = self.exchange
        self.exchange = nil
        exchange?.upstreamFailed(self, detail: String(describing: error))
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is IdleStateHandler.IdleStateEvent else { return context.fireUserInboundEventTriggered(event) }
        if let exchange {
            // Waiting for the head is the route's timeout's business; a stalled answer is ours.
            guard exchange.isStreamingAnswer else { return }
            idleStrikes += 1
            if idleStrikes >= Self.maxIdleStrikes { errorCaught(context: context, error: UpstreamStalled()) }
        } else {
            context.close(promise: nil)
        }
    }
}

/// An answer that stopped arriving for five minutes.
struct UpstreamStalled: Error, CustomStringConvertible {
    var description: String { "the upstream's answer stalled" }
}
