// GatewayHTTP1Channel: Hummingbird's HTTP/1.1 child channel with the channel-level proxy (and the
// /auth/verify responder) in its pipeline. Hummingbird's HTTP1Channel adds extra handlers ahead of its connection-state handler
// (idle timeout, graceful shutdown); the proxy must come after it, so that a proxied exchange
// counts as a request in progress there, and the pipeline is built here in that order.
public import HummingbirdCore
public import Logging
public import NIOCore
import NIOHTTP1
public import NIOHTTPTypes
import NIOHTTPTypesHTTP1

public struct GatewayHTTP1Channel: ServerChildChannel, HTTPChannelHandler {
    public typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>

    public let responder: HTTPChannelHandler.Responder
    let idleTimeout: Duration?
    let proxy: ChannelProxy
    let verify: ChannelVerifyResponder?

    init(responder: @escaping HTTPChannelHandler.Responder, idleTimeout: Duration?, proxy: ChannelProxy, verify: ChannelVerifyResponder?) {
        self.responder = responder
        self.idleTimeout = idleTimeout
        self.proxy = proxy
        self.verify = verify
    }

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            // As HTTP1Channel does it (Hummingbird's default decoder limits).
            var limits = NIOHTTPDecoderLimitConfiguration()
            limits.maxHeaderFieldSize = 80 * 1024
            limits.maxHeaderListSize = 80 * 1024
            limits.maxHeaderFieldCount = 1000
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                withPipeliningAssistance: false, withErrorHandling: false, withOutboundHeaderValidation: false,
                withEncoderConfiguration: .init(), withDecoderLimitConfiguration: limits)
            try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
            try channel.pipeline.syncOperations.addHandler(HTTPConnectionStateHandler(idleTimeout: idleTimeout, logger: logger))
            try channel.pipeline.syncOperations.addHandler(ProxyChannelHandler(proxy: proxy, verify: verify))
            return try NIOAsyncChannel(wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
        }
    }

    public func handle(value asyncChannel: Value, logger: Logger) async {
        await handleHTTP(asyncChannel: asyncChannel, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with the channel-level proxy for `proxy`'s routes and `/auth/verify` answered in the pipeline.
    static func gatewayHTTP1(idleTimeout: Duration?, proxy: ChannelProxy, verify: ChannelVerifyResponder?) -> HTTPServerBuilder {
        .init { responder in GatewayHTTP1Channel(responder: responder, idleTimeout: idleTimeout, proxy: proxy, verify: verify) }
    }
}
