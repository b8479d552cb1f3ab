// Smoke tests of the fake ShotGrid itself, over real HTTP (URLSession).
import AuthGateTesting
import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

@Suite("FakeShotGrid smoke")
struct FakeShotGridSmokeTests {

    static let users: [FakeShotGrid.User] = [
        .init(id: 42, login: "alice", password: "wonderland", email: "alice@example.com", name: "Alice Liddell"),
        .init(id: 43, login: "bob", password: "builder", email: "bob@example.com", name: "Bob Builder", status: "dis"),
    ]

    struct Answer {
        var status: Int
        var contentType: String?
        var json: [String: Any]
    }

    /// Starts a fake, runs `body`, always stops it.
    func withFake(_ body: (FakeShotGrid) async throws -> Void) async throws {
        let fake = FakeShotGrid(users: Self.users)
        try await fake.start()
        try await finally({ try await body(fake) }, { await fake.stop() })
    }

    func send(
        _ method: String,
        _ url: String,
        headers: [String: String] = [:],
        body: String? = nil,
        timeout: TimeInterval = 10
    ) async throws -> Answer {
        var request = URLRequest(url: URL(string: url)!, timeoutInterval: timeout)
        request.httpMethod = method
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = body.map { Data($0.utf8) }
        let session = URLSession(configuration: .ephemeral)
        defer { session.finishTasksAndInvalidate() }
        let (data, response) = try await session.data(for: request)
        let http = try #require(response as? HTTPURLResponse)
        let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        return Answer(status: http.statusCode, contentType: http.value(forHTTPHeaderField: "Content-Type"), json: json)
    }

    func token(_ fake: FakeShotGrid, _ form: String, contentType: String = "application/x-www-form-urlencoded") async throws -> Answer {
        try await self.send("POST", fake.baseURL + "/api/v1/auth/access_token", headers: ["Content-Type": contentType], body: form)
    }

    func lookup(_ fake: FakeShotGrid, login: String, bearer: String?) async throws -> Answer {
        let url = fake.baseURL + "/api/v1/entity/human_users?filter%5Blogin%5D=\(login)&fields=login,email,name,sg_status_list"
        return try await self.send("GET", url, headers: bearer.map { ["Authorization": "Bearer \($0)"] } ?? [:])
    }

    /// The ShotGrid errors[] entry, checked for its full shape.
    func shotGridError(_ answer: Answer) throws -> [String: Any] {
        let errors = try #require(answer.json["errors"] as? [[String: Any]])
        let error = try #require(errors.first)
        #expect(Set(error.keys) == ["id", "status", "code", "title", "source", "detail", "meta"])
        #expect(error["status"] as? Int == answer.status)
        #expect((error["id"] as? String)?.count == 32)
        return error
    }

    @Test func listensOnLoopbackAndStopsIdempotently() async throws {
        let fake = FakeShotGrid(users: Self.users)
        try await fake.start()
        #expect(fake.port > 0)
        #expect(fake.baseURL == "http://127.0.0.1:\(fake.port)")
        await fake.stop()
        await fake.stop()
        await #expect(throws: (any Error).self) {
            _ = try await self.send("GET", fake.baseURL + "/api/v1/entity/human_users", timeout: 2)
        }
    }

    @Test func passwordGrantWithRightCredentialsIssuesBearerAndRefreshTokens() async throws {
        try await withFake { fake in
            let answer = try await token(fake, "grant_type=password&username=alice&password=wonderland")
            #expect(answer.status == 200)
            #expect(answer.contentType?.hasPrefix("application/json") == true)
            #expect(answer.json["token_type"] as? String == "Bearer")
            #expect(answer.json["expires_in"] as? Int == 600)
            let access = try #require(answer.json["access_token"] as? String)
            let refresh = try #require(answer.json["refresh_token"] as? String)
            #expect(access.count >= 40 && refresh.count >= 40 && access != refresh)
            #expect(fake.issuedAccessTokens == [access])
            #expect(fake.issuedRefreshTokens == [refresh])
            #expect(fake.passwordGrants == 1)
        }
    }

    @Test func wrongPasswordOrUnknownUserGetsTheCantAuthenticateError() async throws {
        try await withFake { fake in
            for form in ["grant_type=password&username=alice&password=nope", "grant_type=password&username=zoe&password=x"] {
                let answer = try await token(fake, form)
                #expect(answer.status == 400)
                let error = try shotGridError(answer)
                #expect(error["code"] as? Int == 102)
                #expect(error["title"] as? String == "Can't authenticate user.")
            }
            #expect(fake.passwordGrants == 2)
            #expect(fake.issuedAccessTokens.isEmpty)
        }
    }

    @Test func changedPasswordIsRequiredFromThenOn() async throws {
        try await withFake { fake in
            fake.setPassword(login: "alice", password: "new one")
            let old = try await token(fake, "grant_type=password&username=alice&password=wonderland")
            let new = try await token(fake, "grant_type=password&username=alice&password=new+one")
            #expect(old.status == 400)
            #expect(new.status == 200)
        }
    }

    @Test func refreshGrantRotatesTheRefreshToken() async throws {
        try await withFake { fake in
            let first = try await token(fake, "grant_type=password&username=alice&password=wonderland")
            let oldRefresh = try #require(first.json["refresh_token"] as? String)
            let second = try await token(fake, "grant_type=refresh_token&refresh_token=\(oldRefresh)")
            #expect(second.status == 200)
            let newRefresh = try #require(second.json["refresh_token"] as? String)
            #expect(newRefresh != oldRefresh)
            #expect(second.json["access_token"] as? String != first.json["access_token"] as? String)

            let replay = try await token(fake, "grant_type=refresh_token&refresh_token=\(oldRefresh)")
            #expect(replay.status == 400)
            #expect(try shotGridError(replay)["code"] as? Int == 102)
            #expect(fake.refreshGrants == 2)
            #expect(fake.issuedRefreshTokens.count == 2)
        }
    }

    @Test func malformedTokenRequestsGet400() async throws {
        try await withFake { fake in
            let json = try await token(fake, #"{"grant_type":"password"}"#, contentType: "application/json")
            #expect(json.status == 400)
            _ = try shotGridError(json)
            #expect(try await token(fake, "grant_type=password&username=alice").status == 400)
            #expect(try await token(fake, "username=alice&password=wonderland").status == 400)
            #expect(try await token(fake, "grant_type=refresh_token").status == 400)
            #expect(try await token(fake, "grant_type=magic").status == 400)
        }
    }

    @Test func identityLookupReturnsOnlyRequestedFieldsOfTheFilteredUser() async throws {
        try await withFake { fake in
            let access = try #require(try await token(fake, "grant_type=password&username=alice&password=wonderland").json["access_token"] as? String)
            let url = fake.baseURL + "/api/v1/entity/human_users?filter%5Blogin%5D=alice&fields=login,email"
            let answer = try await send("GET", url, headers: ["Authorization": "Bearer \(access)"])
            #expect(answer.status == 200)
            let data = try #require(answer.json["data"] as? [[String: Any]])
            #expect(data.count == 1)
            let user = try #require(data.first)
            #expect(user["type"] as? String == "HumanUser")
            #expect(user["id"] as? Int == 42)
            #expect((user["links"] as? [String: Any])?["self"] as? String == "/api/v1/entity/human_users/42")
            #expect((user["relationships"] as? [String: Any])?.isEmpty == true)
            let attributes = try #require(user["attributes"] as? [String: Any])
            #expect(Set(attributes.keys) == ["login", "email"])
            #expect(attributes["email"] as? String == "alice@example.com")
            #expect((answer.json["links"] as? [String: Any])?["self"] as? String != nil)
            #expect(fake.identityLookups == 1)
        }
    }

    @Test func inactiveUserStillGetsATokenAndReportsItsStatus() async throws {
        try await withFake { fake in
            let access = try #require(try await token(fake, "grant_type=password&username=bob&password=builder").json["access_token"] as? String)
            fake.setUserStatus(login: "alice", status: "dis")
            for login in ["bob", "alice"] {
                let data = try #require(try await lookup(fake, login: login, bearer: access).json["data"] as? [[String: Any]])
                #expect((data.first?["attributes"] as? [String: Any])?["sg_status_list"] as? String == "dis")
            }
            let nobody = try await lookup(fake, login: "zoe", bearer: access)
            #expect((nobody.json["data"] as? [Any])?.isEmpty == true)
        }
    }

    @Test func identityLookupNeedsAValidUnexpiredBearerToken() async throws {
        try await withFake { fake in
            #expect(try await lookup(fake, login: "alice", bearer: nil).status == 401)
            #expect(try await lookup(fake, login: "alice", bearer: "not-a-token").status == 401)

            let first = try await token(fake, "grant_type=password&username=alice&password=wonderland")
            let access = try #require(first.json["access_token"] as? String)
            #expect(try await lookup(fake, login: "alice", bearer: access).status == 200)
            fake.expireAccessTokens()
            let expired = try await lookup(fake, login: "alice", bearer: access)
            #expect(expired.status == 401)
            _ = try shotGridError(expired)

            // The refresh token survives expiry, not revocation.
            let refresh = try #require(first.json["refresh_token"] as? String)
            let renewed = try await token(fake, "grant_type=refresh_token&refresh_token=\(refresh)")
            let newAccess = try #require(renewed.json["access_token"] as? String)
            #expect(try await lookup(fake, login: "alice", bearer: newAccess).status == 200)
            fake.revokeAllTokens()
            #expect(try await lookup(fake, login: "alice", bearer: newAccess).status == 401)
            let newRefresh = try #require(renewed.json["refresh_token"] as? String)
            #expect(try await token(fake, "grant_type=refresh_token&refresh_token=\(newRefresh)").status == 400)
        }
    }

    @Test func accessTokenLifetimeIsAppliedToNewTokens() async throws {
        try await withFake { fake in
            fake.accessTokenLifetime = 0
            let answer = try await token(fake, "grant_type=password&username=alice&password=wonderland")
            #expect(answer.json["expires_in"] as? Int == 0)
            let access = try #require(answer.json["access_token"] as? String)
            #expect(try await lookup(fake, login: "alice", bearer: access).status == 401)
        }
    }

    @Test func unknownPathGets404ErrorsBody() async throws {
        try await withFake { fake in
            let answer = try await send("GET", fake.baseURL + "/api/v1/entity/no_such_things")
            #expect(answer.status == 404)
            _ = try shotGridError(answer)
        }
    }

    @Test func serverErrorBehaviourAnswers500ToEverything() async throws {
        try await withFake { fake in
            fake.behaviour = .serverError
            let answer = try await token(fake, "grant_type=password&username=alice&password=wonderland")
            #expect(answer.status == 500)
            _ = try shotGridError(answer)
            #expect(try await lookup(fake, login: "alice", bearer: "x").status == 500)
            #expect(fake.passwordGrants == 1 && fake.identityLookups == 1)
            #expect(fake.issuedAccessTokens.isEmpty)
        }
    }

    @Test func slowBehaviourDelaysTheAnswer() async throws {
        try await withFake { fake in
            fake.behaviour = .slow(seconds: 0.5)
            let clock = ContinuousClock()
            let start = clock.now
            let answer = try await token(fake, "grant_type=password&username=alice&password=wonderland")
            #expect(answer.status == 200)
            #expect(clock.now - start >= .milliseconds(450))
        }
    }

    @Test func dropConnectionsBehaviourClosesWithoutAnswering() async throws {
        try await withFake { fake in
            fake.behaviour = .dropConnections
            await #expect(throws: (any Error).self) {
                _ = try await token(fake, "grant_type=password&username=alice&password=wonderland")
            }
            #expect(fake.issuedAccessTokens.isEmpty)
            fake.behaviour = .normal
            let recovered = try await token(fake, "grant_type=password&username=alice&password=wonderland")
            #expect(recovered.status == 200)
        }
    }
}
