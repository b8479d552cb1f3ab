// ProxyChannelHandler: the reverse proxy for plain-HTTP `kind: http` routes, in the client
// connection's channel pipeline, ahead of the router. A request it takes on (ChannelProxy.plan)
// goes part by part to a keep-alive upstream connection on the same event loop, and the answer
// comes back part by part: no task per request, no thread hop, backpressure both ways by holding
// reads. It also answers a valid /auth/verify at once (ChannelVerifyResponder). Every other
// request passes on to the router untouched.
//
// One exchange at a time per connection, in order: a request pipelined behind a proxied one
// waits (reads held) until that answer is complete; a proxy request pipelined behind one the
// router still answers goes to the router too, so answers never overtake each other.
import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

final class ProxyChannelHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let proxy: ChannelProxy
    /// Answers /auth/verify in the pipeline; nil: the router does.
    private let verify: ChannelVerifyResponder?
    private var context: ChannelHandlerContext?
    private var connections: HTTPUpstreamConnections?
    private var peer: ChannelProxy.Peer?

    /// Where the parts of the request being received go.
    private enum Inbound {
        case betweenRequests
        case toRouter
        case toUpstream
        /// The rest of a body nobody takes any more (its answer was already given).
        case discarding
    }

    private var inbound = Inbound.betweenRequests
    /// Requests passed to the router whose answers have not ended yet.
    private var routerOwes = 0
    private var exchange: Exchange?
    /// Parts that arrived behind a request whose answer is still streaming.
    private var held = CircularBuffer<HTTPRequestPart>()
    private var heldRead = false
    private var heldInputClosed = false
    /// A parse error in bytes behind a request whose answer is still owed: it waits for that
    /// answer (and the held requests before it), as NIO's HTTPServerPipelineHandler has it wait.
    private var heldParseError: HTTPParserError?

    init(proxy: ChannelProxy, verify: ChannelVerifyResponder?) {
        self.proxy = proxy
        self.verify = verify
    }

    /// One proxied request and its answer.
    final class Exchange {
        let plan: ChannelProxy.Plan
        var upstream: HTTPUpstreamConnection?
        /// Parts received before the upstream connection was ready.
        var waiting: [HTTPClientRequestPart] = []
        /// The request's end has been written to the upstream.
        var requestSent = false
        var responseStarted = false
        var keepAlive = false
        var reusedConnection = false
        /// Inside an interim (1xx) answer, which the client does not get.
        var skippingInterim = false
        var headTimer: Scheduled<Void>?

        init(plan: ChannelProxy.Plan) { self.plan = plan }
    }

    // MARK: Client side

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        connections = proxy.pools.connections(on: context.eventLoop)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        abandonExchange()
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if !held.isEmpty || isHoldingNextRequest {
            held.append(part)
            return
        }
        receive(part, data, context: context)
    }

    /// A request has fully arrived and its answer is still streaming: what comes next waits.
    private var isHoldingNextRequest: Bool { exchange != nil && inbound == .betweenRequests }

    /// `data` is the part as it arrived, passed on as it is (wrapping it again would box it again).
    private func receive(_ part: HTTPRequestPart, _ data: NIOAny? = nil, context: ChannelHandlerContext) {
        switch (inbound, part) {
        case (.betweenRequests, .head(let request)):
            if routerOwes == 0, let answer = verify?.answer(request) {
                // Answered at once; a body (which verify does not read) is dropped.
                inbound = .discarding
                let closing = request.headerFields[values: .connection].contains { $0.lowercased().contains("close") }
                context.write(wrapOutboundOut(.head(answer)), promise: nil)
                if closing {
                    context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
                } else {
                    context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                }
            } else if routerOwes == 0, let plan = proxy.plan(request, peer: peer(context)) {
                inbound = .toUpstream
                begin(plan, context: context)
            } else {
                routerOwes += 1
                inbound = .toRouter
                context.fireChannelRead(data ?? wrapInboundOut(part))
            }
        case (.toUpstream, .body(let buffer)):
            forward(.body(.byteBuffer(buffer)))
        case (.toUpstream, .end):
            inbound = .betweenRequests
            forward(.end(nil))
        case (.discarding, .end):
            inbound = .betweenRequests
        case (.discarding, _):
            break
        case (.toRouter, .end):
            inbound = .betweenRequests
            context.fireChannelRead(data ?? wrapInboundOut(part))
        default:
            // The router's request, or a part out of order, which the router answers.
            context.fireChannelRead(data ?? wrapInboundOut(part))
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        exchange?.upstream?.flush()
        context.fireChannelReadComplete()
    }

    /// Backpressure on the client: no more of a request body than the upstream takes, and
    /// nothing behind a request whose answer is still streaming.
    func read(context: ChannelHandlerContext) {
        if shouldHoldReads {
            heldRead = true
        } else {
            context.read()
        }
    }

    private var shouldHoldReads: Bool {
        if !held.isEmpty || isHoldingNextRequest { return true }
        guard inbound == .toUpstream, let exchange else { return false }
        return !(exchange.upstream?.isWritable ?? false)
    }

    private func resumeReadsIfAllowed() {
        guard heldRead, !shouldHoldReads, let context else { return }
        heldRead = false
        context.read()
    }

    /// The router's answers pass through; their ends are counted.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { routerOwes -= 1 }
        context.write(data, promise: promise)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { exchange?.upstream?.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    var clientIsWritable: Bool { context?.channel.isWritable ?? false }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // A client that half-closes after its request still gets the answer: the router, which
        // closes the connection when its input ends, hears of it once the answer is complete.
        if case ChannelEvent.inputClosed = event, exchange != nil || !held.isEmpty {
            heldInputClosed = true
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        abandonExchange()
        held.removeAll()
        heldParseError = nil
        context.fireChannelInactive()
    }

    /// A request that does not parse ends the connection with a 400 (the router writes it), but
    /// only after the answers owed for the requests before it.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parseError = error as? HTTPParserError else { return context.fireErrorCaught(error) }
        if inbound == .toUpstream, let exchange {
            // The body being proxied broke off: the upstream must never take it as whole.
            let answerStarted = exchange.responseStarted
            abandonExchange()
            // Mid-answer there is no room for a 400: closing tells the client the answer is cut short.
            if answerStarted { return context.close(promise: nil) }
            return context.fireErrorCaught(error)
        }
        if exchange != nil || !held.isEmpty {
            heldParseError = parseError
            return
        }
        context.fireErrorCaught(error)
    }

    private func peer(_ context: ChannelHandlerContext) -> ChannelProxy.Peer {
        if let peer { return peer }
        let found = proxy.peer(of: context.channel)
        peer = found
        return found
    }

    // MARK: Exchange

    private func begin(_ plan: ChannelProxy.Plan, context: ChannelHandlerContext) {
        let exchange = Exchange(plan: plan)
        self.exchange = exchange
        guard let connections else { return fail(exchange, .badGateway, detail: "no event loop pool") }
        if let connection = connections.take(plan.target) {
            attach(connection, to: exchange, reused: true)
        } else {
            connect(exchange, connections: connections)
        }
    }

    private func connect(_ exchange: Exchange, connections: HTTPUpstreamConnections) {
        connections.connect(exchange.plan.target) { [weak self] result in
            guard let self, self.exchange === exchange else {
                // The client went away meanwhile.
                if case .success(let connection) = result { connection.close() }
                return
            }
            switch result {
            case .success(let connection): self.attach(connection, to: exchange, reused: false)
            case .failure(let error): self.fail(exchange, .badGateway, detail: "connect: \(error)")
            }
        }
    }

    private func attach(_ connection: HTTPUpstreamConnection, to exchange: Exchange, reused: Bool) {
        exchange.upstream = connection
        exchange.reusedConnection = reused
        connection.exchange = self
        connection.send(.head(exchange.plan.head))
        let waiting = exchange.waiting
        exchange.waiting = []
        for part in waiting { send(part, on: connection, for: exchange) }
        // Inside a read (a pooled connection), channelReadComplete flushes with the body parts.
        if !reused { connection.flush() }
        // The answer is read as it comes, even while the request body is still going up (an
        // upstream may answer early, say with a 413).
        connection.resumeReading()
        resumeReadsIfAllowed()
    }

    private func forward(_ part: HTTPClientRequestPart) {
        guard let exchange else { return }
        if let connection = exchange.upstream {
            send(part, on: connection, for: exchange)
        } else {
            exchange.waiting.append(part)
        }
    }

    private func send(_ part: HTTPClientRequestPart, on connection: HTTPUpstreamConnection, for exchange: Exchange) {
        connection.send(part)
        guard case .end = part else { return }
        exchange.requestSent = true
        // The route's timeout is for the answer's head, counted from the request's end: a large
        // upload may take longer than that.
        guard !exchange.responseStarted, let context else { return }
        let timeout = TimeAmount.nanoseconds(Int64(exchange.plan.route.timeout * 1_000_000_000))
        exchange.headTimer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self] in
            guard let self, self.exchange === exchange, !exchange.responseStarted else { return }
            self.fail(exchange, .upstreamTimeout, detail: "no answer within \(exchange.plan.route.timeout) s")
        }
    }

    // MARK: Upstream side (HTTPUpstreamConnection calls these)

    var isStreamingAnswer: Bool { exchange?.responseStarted ?? false }

    func upstreamHead(_ head: HTTPResponseHead) {
        guard let exchange, let context else { return }
        if head.status.code < 200 {
            // 1xx: interim (103 Early Hints and the like); 101 cannot come, Upgrade is never sent.
            exchange.skippingInterim = true
            return
        }
        guard head.status.code <= 999 else { return fail(exchange, .badGateway, detail: "status \(head.status.code)") }
        exchange.headTimer?.cancel()
        exchange.headTimer = nil
        exchange.responseStarted = true
        exchange.keepAlive = head.isKeepAlive
        let answer = proxy.answerHead(head, plan: exchange.plan)
        proxy.record(exchange.plan, status: answer.status, isError: false)
        context.write(wrapOutboundOut(.head(answer)), promise: nil)
    }

    func upstreamBody(_ buffer: ByteBuffer) {
        guard let exchange, !exchange.skippingInterim, let context else { return }
        context.write(wrapOutboundOut(.body(buffer)), promise: nil)
    }

    func upstreamEnd() {
        guard let exchange else { return }
        if exchange.skippingInterim {
            exchange.skippingInterim = false
            return
        }
        guard exchange.responseStarted else { return fail(exchange, .badGateway, detail: "an answer without a head") }
        finish(exchange, reuseUpstream: exchange.keepAlive && exchange.requestSent, closeClient: exchange.plan.closeAfter)
    }

    func upstreamReadComplete() {
        context?.flush()
    }

    func upstreamBecameWritable() {
        resumeReadsIfAllowed()
    }

    func upstreamFailed(_ connection: HTTPUpstreamConnection, detail: String) {
        guard let exchange, exchange.upstream === connection else { return }
        // A pooled connection the upstream closed while it sat idle: every keep-alive pool meets
        // this race. A request without a body is sent again, once, on a new connection.
        if exchange.reusedConnection, !exchange.responseStarted, !exchange.plan.hasBody, let connections {
            exchange.headTimer?.cancel()
            exchange.headTimer = nil
            exchange.upstream = nil
            exchange.reusedConnection = false
            if exchange.requestSent {
                exchange.requestSent = false
                exchange.waiting = [.end(nil)]
            }
            return connect(exchange, connections: connections)
        }
        fail(exchange, .badGateway, detail: detail)
    }

    // MARK: Ending an exchange

    /// The upstream could not be reached, broke off, or did not answer in time.
    private func fail(_ exchange: Exchange, _ error: APIError, detail: String) {
        guard self.exchange === exchange, let context else { return }
        proxy.logFailure(exchange.plan, detail)
        if exchange.responseStarted {
            // The answer broke off: closing the connection is the only way to tell the client a
            // body is cut short, rather than complete.
            abandonExchange()
            context.close(promise: nil)
            return
        }
        proxy.record(exchange.plan, status: error.status, isError: true)
        let answer = proxy.errorAnswer(error, plan: exchange.plan)
        context.write(wrapOutboundOut(.head(answer.head)), promise: nil)
        context.write(wrapOutboundOut(.body(answer.body)), promise: nil)
        // A client still sending its body is not read to the end: the connection closes instead.
        finish(exchange, reuseUpstream: false, closeClient: exchange.plan.closeAfter || inbound == .toUpstream)
    }

    private func finish(_ exchange: Exchange, reuseUpstream: Bool, closeClient: Bool) {
        guard let context else { return }
        self.exchange = nil
        exchange.headTimer?.cancel()
        if let connection = exchange.upstream {
            exchange.upstream = nil
            if reuseUpstream, let connections { connections.giveBack(connection) } else { connection.close() }
        }
        if inbound == .toUpstream { inbound = .discarding }
        if closeClient {
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            return
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        replayHeld(context: context)
    }

    /// The requests that waited behind the finished exchange, in order.
    private func replayHeld(context: ChannelHandlerContext) {
        let replaying = !held.isEmpty
        while !isHoldingNextRequest, let part = held.popFirst() {
            receive(part, context: context)
        }
        // The router's channel hands what it was given to the request loop at read-complete, and
        // this runs outside the client channel's own read.
        if replaying { context.fireChannelReadComplete() }
        if let error = heldParseError, held.isEmpty, exchange == nil {
            heldParseError = nil
            context.fireErrorCaught(error)
        }
        if heldInputClosed, held.isEmpty, exchange == nil {
            heldInputClosed = false
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        }
        resumeReadsIfAllowed()
    }

    /// The client went away, or the exchange broke: the upstream connection cannot be reused.
    private func abandonExchange() {
        guard let exchange else { return }
        self.exchange = nil
        exchange.headTimer?.cancel()
        exchange.upstream?.close()
        exchange.upstream = nil
        if inbound == .toUpstream { inbound = .discarding }
    }
}
