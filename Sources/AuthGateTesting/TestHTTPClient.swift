// TestHTTPClient: a plain HTTP client for tests (URLSession, no automatic cookies), so tests see
// exactly what a browser or proxy would get.
public import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

public struct TestResponse: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: Data

    public func header(_ name: String) -> String? {
        headers.first { $0.key.lowercased() == name.lowercased() }?.value
    }

    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The body as a JSON object (empty when it is not one).
    public var json: [String: Any] { ((try? JSONSerialization.jsonObject(with: body)) as? [String: Any]) ?? [:] }

    public var errorCode: String? { json["error"] as? String }
}

public struct TestHTTPClient: Sendable {
    public let baseURL: String

    public init(baseURL: String) { self.baseURL = baseURL }

    public func send(
        _ method: String, _ path: String, headers: [String: String] = [:], body: Data? = nil, timeout: TimeInterval = 30
    ) async throws -> TestResponse {
        var request = URLRequest(url: URL(string: baseURL + path)!, timeoutInterval: timeout)
        request.httpMethod = method
        request.httpShouldHandleCookies = false
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = body
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpShouldSetCookies = false
        configuration.httpCookieAcceptPolicy = .never
        let session = URLSession(configuration: configuration)
        defer { session.finishTasksAndInvalidate() }
        let (data, response) = try await session.data(for: request)
        guard let http = response as? HTTPURLResponse else { throw URLError(.badServerResponse) }
        var fields: [String: String] = [:]
        for (key, value) in http.allHeaderFields { fields["\(key)"] = "\(value)" }
        return TestResponse(status: http.statusCode, headers: fields, body: data)
    }

    public func postJSON(_ path: String, _ object: [String: Any], headers: [String: String] = [:]) async throws -> TestResponse {
        var headers = headers
        headers["Content-Type"] = "application/json"
        return try await send("POST", path, headers: headers, body: try JSONSerialization.data(withJSONObject: object))
    }

    public func get(_ path: String, bearer: String? = nil) async throws -> TestResponse {
        try await send("GET", path, headers: bearer.map { ["Authorization": "Bearer \($0)"] } ?? [:])
    }
}
