// ShotGridAPI: the three ShotGrid REST calls the gateway makes (password grant, refresh grant,
// human_users lookup) and how their answers map to our errors. Blocking: run on the curl pool.
import Foundation

struct ShotGridAPI {
    let baseURL: String

    struct TokenAnswer: Decodable {
        var access_token: String
        var refresh_token: String?
        var token_type: String?
        var expires_in: Double?
    }

    struct UsersAnswer: Decodable {
        struct Entity: Decodable {
            struct Attributes: Decodable {
                var login: String?
                var email: String?
                var name: String?
                var sg_status_list: String?
            }
            var id: Int64
            var attributes: Attributes
        }
        var data: [Entity]
    }

    func passwordGrant(_ connection: UpstreamConnection, username: String, password: Secret<String>, now: Date) throws(ProviderError) -> UpstreamTokens {
        var form = "grant_type=password&username=\(CurlEasy.escape(username))&password=\(CurlEasy.escape(password.value))"
        defer { form = "" }
        return try tokenRequest(connection, form: form, now: now)
    }

    func refreshGrant(_ connection: UpstreamConnection, refreshToken: Secret<String>, now: Date) throws(ProviderError) -> UpstreamTokens {
        try tokenRequest(connection, form: "grant_type=refresh_token&refresh_token=\(CurlEasy.escape(refreshToken.value))", now: now)
    }

    private func tokenRequest(_ connection: UpstreamConnection, form: String, now: Date) throws(ProviderError) -> UpstreamTokens {
        let result = try perform(
            connection, method: "POST", path: "/api/v1/auth/access_token",
            headers: ["Content-Type: application/x-www-form-urlencoded", "Accept: application/json"], body: Array(form.utf8))
        switch result.status {
        case 200:
            guard let answer = try? JSONDecoder().decode(TokenAnswer.self, from: Data(result.body)), !answer.access_token.isEmpty else {
                throw .unavailable("token endpoint answered 200 without a token")
            }
            let lifetime = max(answer.expires_in ?? 600, 1)
            return UpstreamTokens(
                accessToken: answer.access_token, refreshToken: answer.refresh_token,
                expiresAt: now.addingTimeInterval(lifetime), lifetime: lifetime)
        case 400, 401, 403:
            // ShotGrid answers bad credentials (and a spent refresh token) with a 4xx errors[] body.
            throw .invalidCredentials
        default:
            throw .unavailable("token endpoint answered \(result.status)")
        }
    }

    struct Identity {
        var id: Int64
        var login: String
        var email: String
        var name: String
        var active: Bool
    }

    func lookupUser(_ connection: UpstreamConnection, login: String, accessToken: Secret<String>) throws(ProviderError) -> Identity {
        let query = "filter%5Blogin%5D=\(CurlEasy.escape(login))&fields=login,email,name,sg_status_list"
        let result = try perform(
            connection, method: "GET", path: "/api/v1/entity/human_users?\(query)",
            headers: ["Authorization: Bearer \(accessToken.value)", "Accept: application/json"], body: nil)
        switch result.status {
        case 200:
            guard let answer = try? JSONDecoder().decode(UsersAnswer.self, from: Data(result.body)) else {
                throw .unavailable("human_users answered 200 with an unexpected body")
            }
            // Exact match only: a filter that matched loosely must not sign in someone else.
            guard let entity = answer.data.first(where: { $0.attributes.login == login }) else { throw .invalidCredentials }
            let attributes = entity.attributes
            return Identity(
                id: entity.id, login: attributes.login ?? login, email: attributes.email ?? "", name: attributes.name ?? "",
                active: attributes.sg_status_list == "act")
        case 401, 403:
            throw .invalidCredentials
        default:
            throw .unavailable("human_users answered \(result.status)")
        }
    }

    private func perform(_ connection: UpstreamConnection, method: String, path: String, headers: [String], body: [UInt8]?) throws(ProviderError) -> HTTPResult {
        do {
            return try connection.perform(method: method, url: baseURL + path, headers: headers, body: body)
        } catch {
            throw .unavailable(error.description)
        }
    }
}
