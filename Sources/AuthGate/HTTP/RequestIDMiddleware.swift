// RequestIDMiddleware: every answer carries X-Request-Id: the client's own when it is 1–128
// printable ASCII characters, else one made here; the id is in every log line of the request.
public import Hummingbird
import HTTPTypes
import Logging
import Synchronization

public struct RequestIDMiddleware: RouterMiddleware {
    public typealias Context = GatewayContext

    public init() {}

    public static let header = HTTPField.Name("X-Request-Id")!

    /// A random per-process prefix and a counter: unique, and far cheaper than random bytes per request.
    private static let prefix = Sodium.hex(Sodium.randomBytes(6))
    private static let counter = Atomic<UInt64>(0)

    static func generate() -> String {
        let next = counter.add(1, ordering: .relaxed).newValue
        return prefix + "-" + String(next, radix: 16)
    }

    static func isAcceptable(_ id: String) -> Bool {
        let bytes = id.utf8
        return (1...128).contains(bytes.count) && bytes.allSatisfy { (0x21...0x7e).contains($0) }
    }

    public func handle(_ request: Request, context: GatewayContext, next: (Request, GatewayContext) async throws -> Response) async throws -> Response {
        var context = context
        let id = request.headers[Self.header].flatMap { Self.isAcceptable($0) ? $0 : nil } ?? Self.generate()
        context.requestID = id
        // The log handler reads it from the task-local when a line is written (RequestScope).
        var response = try await RequestScope.$requestID.withValue(id) { try await next(request, context) }
        response.headers[Self.header] = id
        return response
    }
}
