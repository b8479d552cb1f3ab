// bench-upstream: the upstream of scripts/bench's proxy scenario: a bare Hummingbird 2 server that
// answers every method and path, echoing a request body back and {"status":"ok"} when there is none.
//   bench-upstream [--port N]   (default 8082), on 127.0.0.1 only.
import Foundation
import Hummingbird

var port = 8082
let arguments = CommandLine.arguments
if let index = arguments.firstIndex(of: "--port"), index + 1 < arguments.count, let value = Int(arguments[index + 1]) {
    port = value
}

/// Answers everything itself: a route table would only add work the direct run does not share.
struct Echo<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let hasBody = request.headers[.transferEncoding] != nil || (request.headers[.contentLength].flatMap { Int($0) } ?? 0) > 0
        if hasBody {
            // Streamed back as it arrives: an upload is never held whole in memory.
            var headers = HTTPFields()
            headers[.contentType] = request.headers[.contentType] ?? "application/octet-stream"
            if let length = request.headers[.contentLength] { headers[.contentLength] = length }
            return Response(status: .ok, headers: headers, body: ResponseBody(asyncSequence: request.body))
        }
        return Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#)))
    }
}

let router = Router()
router.add(middleware: Echo())
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "bench-upstream"))
try await app.runService()
