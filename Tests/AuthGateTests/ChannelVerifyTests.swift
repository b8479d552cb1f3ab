// ChannelVerifyTests: /auth/verify answered in the channel pipeline (ChannelVerifyResponder) is
// the same answer the router gives: the same headers in the same order with the same values
// (but the request id and the date), for GET and HEAD.
@testable import AuthGate
import AuthGateTesting
import Foundation
import Testing

@Suite struct ChannelVerifyTests {
    @Test(arguments: ["GET", "HEAD"])
    func verifyAnswersAlikeInThePipelineAndThroughTheRouter(_ method: String) async throws {
        try await withGateway(.sqlite) { gateway in
            let token = try await accessToken(gateway)
            let headers = [HeaderLine("Authorization", "Bearer \(token)"), HeaderLine("Origin", "https://elsewhere.example")]
            let (pipeline, router) = try await RawHTTPConnection.with(port: gateway.port) { connection in
                let pipeline = try await ProxyPathTaken.channel.send(connection, method, "/auth/verify", headers: headers)
                let router = try await ProxyPathTaken.router.send(connection, method, "/auth/verify", headers: headers)
                return (pipeline, router)
            }
            #expect(pipeline.status == 200 && router.status == 200)
            #expect(pipeline.header("X-Authgate-Login") == "alice")
            let varying: Set<String> = ["x-request-id", "date"]
            func fixed(_ answer: RawHTTPResponse) -> [String] {
                answer.headers.map { line in
                    let name = line.name.lowercased()
                    return varying.contains(name) ? name : "\(name): \(line.value)"
                }
            }
            #expect(fixed(pipeline) == fixed(router))
            #expect(pipeline.header("X-Request-Id") != router.header("X-Request-Id"))
        }
    }

    @Test func dateHeaderIsIMFFixdate() {
        #expect(HTTPDate.format(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(1_796_062_427) == "Mon, 30 Nov 2026 18:13:47 GMT")
    }
}
