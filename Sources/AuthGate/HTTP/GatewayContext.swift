// GatewayContext: the per-request context: the verified access token (once authenticated) and
// the peer address, for login regulation and session records.
public import Hummingbird
public import HummingbirdAuth
import NIOCore

public struct GatewayContext: AuthRequestContext, RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var identity: AccessClaims?
    public let peerAddress: String

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        identity = nil
        peerAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }

    /// Bodies are read explicitly with the 64 KiB limit; this guards any other reader.
    public var maxUploadSize: Int { 64 * 1024 }

    /// The authenticated claims, or the RFC 6750 401 (no token was sent).
    public func requireClaims() throws -> AccessClaims {
        guard let identity else { throw GatewayError.invalidToken(tokenSent: false) }
        return identity
    }
}
