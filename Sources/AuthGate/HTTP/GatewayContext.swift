// GatewayContext: the per-request context: the verified access token (once authenticated), the
// request id, and the peer, for login regulation and session records.
public import Hummingbird
public import HummingbirdAuth
import NIOCore

public struct GatewayContext: AuthRequestContext, RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var identity: AccessClaims?
    /// The X-Request-Id of this exchange (RequestIDMiddleware sets it).
    public var requestID: String = ""
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        identity = nil
        channel = source.channel
    }

    /// The TCP peer; formatted only when a handler asks (verify never does).
    public var peerAddress: String { channel.remoteAddress?.ipAddress ?? "unknown" }

    /// Bodies of the gateway's own endpoints are read with the 64 KiB limit; this guards any
    /// other reader. Proxied bodies stream and are not limited.
    public var maxUploadSize: Int { GatewayRequestDecoder.limit }

    public var requestDecoder: GatewayRequestDecoder { GatewayRequestDecoder() }
    public var responseEncoder: WireJSONEncoder { WireJSONEncoder() }

    /// The authenticated claims, or the RFC 6750 401 (no token was sent).
    public func requireClaims() throws(SessionError) -> AccessClaims {
        guard let identity else { throw .invalidToken(tokenSent: false) }
        return identity
    }
}
