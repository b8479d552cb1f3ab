// bare-hummingbird: the baseline of scripts/bench: a Hummingbird 2 server with one route,
// GET /ping, answering 200 with a small JSON body (about the size of /healthz's).
//   bare-hummingbird [--port N]   (or BARE_PORT=N; default 8081), on 127.0.0.1 only.
import Foundation
import Hummingbird

var port = Int(ProcessInfo.processInfo.environment["BARE_PORT"] ?? "") ?? 8081
let arguments = CommandLine.arguments
if let index = arguments.firstIndex(of: "--port"), index + 1 < arguments.count, let value = Int(arguments[index + 1]) {
    port = value
}

let router = Router()
router.get("ping") { _, _ in
    Response(
        status: .ok, headers: [.contentType: "application/json"],
        body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#)))
}
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "bare-hummingbird"))
try await app.runService()
