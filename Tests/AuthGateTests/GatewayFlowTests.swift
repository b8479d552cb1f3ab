// GatewayFlowTests: the real server over HTTP, on both stores, with local users: every endpoint's
// success and the contract's error codes.
@testable import AuthGate
import AuthGateTesting
import Foundation
import Testing

/// The token an `authgate_refresh=…` Set-Cookie header carries.
func refreshCookieValue(_ header: String) -> String? {
    guard header.hasPrefix("authgate_refresh=") else { return nil }
    return header.dropFirst("authgate_refresh=".count).split(separator: ";").first.map(String.init)
}

@Suite struct GatewayFlowTests {
    @Test(arguments: TestStoreKind.testable)
    func loginMeRefreshLogout(_ kind: TestStoreKind) async throws {
        try await withGateway(kind) { gateway in
            let signedIn = try await login(gateway)
            #expect(signedIn.status == 200)
            let body = signedIn.json
            let access = try #require(body["access_token"] as? String)
            let refresh = try #require(body["refresh_token"] as? String)
            #expect(body["token_type"] as? String == "Bearer" && body["expires_in"] as? Int == 900)
            #expect((body["user"] as? [String: Any])?["login"] as? String == "alice")
            let cookie = try #require(signedIn.header("Set-Cookie"))
            #expect(cookie.hasPrefix("authgate_refresh=\(refresh);") && cookie.contains("HttpOnly") && cookie.contains("Secure")
                && cookie.contains("SameSite=Strict") && cookie.contains("Path=/auth"))

            let me = try await gateway.client.get("/auth/me", bearer: access)
            #expect(me.status == 200)
            #expect((me.json["session"] as? [String: Any])?["id"] as? String == body["session_id"] as? String)

            let verify = try await gateway.client.get("/auth/verify", bearer: access)
            #expect(verify.status == 200 && verify.header("X-Authgate-Login") == "alice" && verify.header("X-Authgate-User-Id") == "user-alice")

            let refreshed = try await gateway.client.postJSON("/auth/refresh", ["refresh_token": refresh])
            #expect(refreshed.status == 200)
            let newRefresh = try #require(refreshed.json["refresh_token"] as? String)
            #expect(newRefresh != refresh && refreshed.json["access_token"] as? String != access)

            // Cookie refresh needs the CSRF header, and a trusted Origin when one is sent.
            let noCSRF = try await gateway.client.send("POST", "/auth/refresh", headers: ["Cookie": "authgate_refresh=\(newRefresh)"])
            #expect(noCSRF.status == 403 && noCSRF.errorCode == "access_denied")
            let badOrigin = try await gateway.client.send(
                "POST", "/auth/refresh", headers: ["Cookie": "authgate_refresh=\(newRefresh)", "X-Authgate-CSRF": "1", "Origin": "https://evil.example"])
            #expect(badOrigin.status == 403)
            let viaCookie = try await gateway.client.send(
                "POST", "/auth/refresh", headers: ["Cookie": "authgate_refresh=\(newRefresh)", "X-Authgate-CSRF": "1"])
            #expect(viaCookie.status == 200)
            // The cookie carries the new refresh token; page scripts never see it in the body.
            #expect(viaCookie.json["refresh_token"] == nil && viaCookie.json["access_token"] is String)
            let cookieToken = try #require(viaCookie.header("Set-Cookie").flatMap(refreshCookieValue))

            let logout = try await gateway.client.send("POST", "/auth/logout", headers: ["Authorization": "Bearer \(access)"])
            #expect(logout.status == 204 && logout.header("Set-Cookie")?.contains("Max-Age=0") == true)
            let again = try await gateway.client.send("POST", "/auth/logout", headers: ["Authorization": "Bearer \(access)"])
            #expect(again.status == 204)
            let after = try await gateway.client.get("/auth/me", bearer: access)
            #expect(after.status == 401 && after.header("WWW-Authenticate") == #"Bearer realm="authgate", error="invalid_token""#)
            let latest = cookieToken
            #expect(try await gateway.client.postJSON("/auth/refresh", ["refresh_token": latest]).status == 401)
        }
    }

    @Test(arguments: TestStoreKind.testable)
    func previousRefreshTokenWorksWithinGrace(_ kind: TestStoreKind) async throws {
        try await withGateway(kind) { gateway in
            let r0 = try #require(try await login(gateway).json["refresh_token"] as? String)
            let tab1 = try await gateway.client.postJSON("/auth/refresh", ["refresh_token": r0])
            // Inside the grace the previous token still works (a second tab) and rotates again;
            // both tabs' new tokens stay usable.
            let tab2 = try await gateway.client.postJSON("/auth/refresh", ["refresh_token": r0])
            #expect(tab1.status == 200 && tab2.status == 200)
            for response in [tab1, tab2] {
                let next = try #require(response.json["refresh_token"] as? String)
                #expect(try await gateway.client.postJSON("/auth/refresh", ["refresh_token": next]).status == 200)
            }
        }
    }

    /// Within the grace a rotated token gets one sibling (a second tab); a third showing is a
    /// copy in use: the session ends rather than hand a thief an independent chain.
    @Test(arguments: TestStoreKind.testable)
    func rotatedTokenGetsOneSiblingThenEndsTheSession(_ kind: TestStoreKind) async throws {
        try await withGateway(kind) { gateway in
            let first = try await login(gateway).json
            let r0 = try #require(first["refresh_token"] as? String)
            let tab1 = try await gateway.client.postJSON("/auth/refresh", ["refresh_token": r0])
            let tab2 = try await gateway.client.postJSON("/auth/refresh", ["refresh_token": r0])
            #expect(tab1.status == 200 && tab2.status == 200)
            let thief = try await gateway.client.postJSON("/auth/refresh", ["refresh_token": r0])
            #expect(thief.status == 401 && thief.errorCode == "invalid_grant")
            for response in [tab1, tab2] {
                #expect(try await gateway.client.postJSON("/auth/refresh", ["refresh_token": try #require(response.json["refresh_token"] as? String)]).status == 401)
                #expect(try await gateway.client.get("/auth/me", bearer: response.json["access_token"] as? String).status == 401)
            }
        }
    }

    @Test(arguments: TestStoreKind.testable)
    func presentingRotatedTokenAfterGraceKillsSessionAndItsAccessTokens(_ kind: TestStoreKind) async throws {
        try await withGateway(kind) { gateway in
            let first = try await login(gateway).json
            let r0 = try #require(first["refresh_token"] as? String)
            let access = try #require(first["access_token"] as? String)
            let rotated = try await gateway.components.refreshFlow.refresh(refreshToken: r0)
            await #expect(throws: SessionError.invalidGrant) {
                try await gateway.components.refreshFlow.refresh(refreshToken: r0, now: Date().addingTimeInterval(RefreshFlow.refreshGrace + 1))
            }
            #expect(try await gateway.client.get("/auth/me", bearer: access).status == 401)
            #expect(try await gateway.client.get("/auth/verify", bearer: rotated.accessToken).status == 401)
            #expect(try await gateway.client.postJSON("/auth/refresh", ["refresh_token": rotated.refreshToken.value]).status == 401)
        }
    }

    @Test(arguments: TestStoreKind.testable)
    func errorsHaveTheContractShape(_ kind: TestStoreKind) async throws {
        try await withGateway(kind) { gateway in
            let c = gateway.client
            let wrong = try await login(gateway, "alice", "wrong-password")
            #expect(wrong.status == 401 && wrong.errorCode == "invalid_grant")
            let unknown = try await login(gateway, "nobody", "wrong-password")
            #expect(unknown.status == 401 && unknown.text == wrong.text)
            let missing = try await c.postJSON("/auth/login", ["username": "alice"])
            #expect(missing.status == 400 && missing.errorCode == "invalid_request")
            let malformed = try await c.send("POST", "/auth/login", headers: ["Content-Type": "application/json"], body: Data("{".utf8))
            #expect(malformed.status == 400 && malformed.errorCode == "invalid_request")
            let text = try await c.send("POST", "/auth/login", headers: ["Content-Type": "text/plain"], body: Data("x".utf8))
            #expect(text.status == 415 && text.errorCode == "invalid_request")
            let huge = try await c.send("POST", "/auth/login", headers: ["Content-Type": "application/json"], body: Data(repeating: 0x20, count: 70 * 1024))
            #expect(huge.status == 413 && huge.errorCode == "invalid_request")
            let form = try await c.send(
                "POST", "/auth/login", headers: ["Content-Type": "application/x-www-form-urlencoded"], body: Data("username=alice&password=correct-horse-1".utf8))
            #expect(form.status == 200)
            let none = try await c.get("/auth/me")
            #expect(none.status == 401 && none.errorCode == "invalid_token" && none.header("WWW-Authenticate") == #"Bearer realm="authgate""#)
            let garbage = try await c.get("/auth/verify", bearer: "not.a.jwt")
            #expect(garbage.status == 401 && garbage.header("WWW-Authenticate")?.contains(#"error="invalid_token""#) == true)
            let oversize = try await c.get("/auth/verify", bearer: String(repeating: "a", count: 9000))
            #expect(oversize.status == 401 && oversize.errorCode == "invalid_token")
            let badRefresh = try await c.postJSON("/auth/refresh", ["refresh_token": "nope"])
            #expect(badRefresh.status == 401 && badRefresh.errorCode == "invalid_grant")
            let notFound = try await c.get("/nowhere")
            #expect(notFound.status == 404 && notFound.errorCode != nil)
            for response in [wrong, missing, text, huge, none, badRefresh] {
                #expect(response.json["error_description"] is String)
                #expect(!response.text.contains("correct-horse") && !response.text.lowercased().contains("mongodb"))
            }
        }
    }

    @Test(arguments: TestStoreKind.testable)
    func repeatedFailuresAreRateLimited(_ kind: TestStoreKind) async throws {
        try await withGateway(kind, configure: { $0.loginMaxFailures = 3 }) { gateway in
            for _ in 0..<3 { #expect(try await login(gateway, "alice", "wrong-password").status == 401) }
            let limited = try await login(gateway)
            #expect(limited.status == 429 && limited.errorCode == "rate_limited")
            #expect(Int(limited.header("Retry-After") ?? "") ?? 0 > 0)
        }
    }

    @Test(arguments: TestStoreKind.testable)
    func sessionsListingLogoutAllAndOwnSessionDeletion(_ kind: TestStoreKind) async throws {
        try await withGateway(kind) { gateway in
            let a = try await login(gateway).json
            let b = try await login(gateway).json
            let accessA = try #require(a["access_token"] as? String)
            let listed = try await gateway.client.get("/auth/sessions", bearer: accessA)
            #expect((listed.json["sessions"] as? [[String: Any]])?.count == 2)
            let sidB = try #require(b["session_id"] as? String)
            let deleted = try await gateway.client.send("DELETE", "/auth/sessions/\(sidB)", headers: ["Authorization": "Bearer \(accessA)"])
            #expect(deleted.status == 204)
            #expect(try await gateway.client.get("/auth/me", bearer: b["access_token"] as? String).status == 401)
            let missing = try await gateway.client.send("DELETE", "/auth/sessions/unknown", headers: ["Authorization": "Bearer \(accessA)"])
            #expect(missing.status == 404)
            #expect(try await gateway.client.send("POST", "/auth/logout-all", headers: ["Authorization": "Bearer \(accessA)"]).status == 204)
            #expect(try await gateway.client.get("/auth/me", bearer: accessA).status == 401)
        }
    }

    @Test func expiredAccessTokenStillLogsOut() async throws {
        try await withGateway(.sqlite, configure: { $0.accessTTL = 1 }) { gateway in
            let signedIn = try await login(gateway).json
            let access = try #require(signedIn["access_token"] as? String)
            let claims = try gateway.components.issuer.jwt.verify(access, ignoringExpiry: true)
            // Sign the same claims as long expired.
            var expired = claims
            expired.exp = Int64(Date().timeIntervalSince1970) - 3600
            expired.iat = expired.exp - 60
            expired.nbf = expired.iat
            let old = try gateway.components.issuer.jwt.sign(expired)
            #expect(try await gateway.client.get("/auth/me", bearer: old).status == 401)
            #expect(try await gateway.client.send("POST", "/auth/logout", headers: ["Authorization": "Bearer \(old)"]).status == 204)
            let refresh = try #require(signedIn["refresh_token"] as? String)
            #expect(try await gateway.client.postJSON("/auth/refresh", ["refresh_token": refresh]).status == 401)
        }
    }

    /// Two instances on one store: a revocation on one reaches the other within a second.
    @Test(arguments: TestStoreKind.testable)
    func revocationReachesOtherInstances(_ kind: TestStoreKind) async throws {
        try await withGateway(kind) { first in
            let second = try await TestGateway.start(first.config)
            try await finally({
                let access = try #require(try await login(first).json["access_token"] as? String)
                #expect(try await second.client.get("/auth/verify", bearer: access).status == 200)
                #expect(try await first.client.send("POST", "/auth/logout", headers: ["Authorization": "Bearer \(access)"]).status == 204)
                let loggedOutAt = Date()
                #expect(try await second.statusAfterRevocation(writtenAt: loggedOutAt) { try await second.client.get("/auth/verify", bearer: access).status } == 401)
            }, { await second.stop() })
        }
    }

    /// A revocation written by a host whose clock is an hour behind reaches a running instance
    /// within a second: polls follow the store's order, not the writer's timestamps.
    @Test(arguments: TestStoreKind.testable)
    func revocationFromALaggingClockStillReachesEveryInstance(_ kind: TestStoreKind) async throws {
        try await withGateway(kind) { gateway in
            let signedIn = try await login(gateway).json
            let access = try #require(signedIn["access_token"] as? String)
            let sid = try #require(signedIn["session_id"] as? String)
            #expect(try await gateway.client.get("/auth/verify", bearer: access).status == 200)
            // Written straight to the store, as another instance or the CLI would, with an old clock.
            #expect(try await gateway.components.store.revokeSession(id: sid, at: Date().addingTimeInterval(-3600)))
            let revokedAt = Date()
            #expect(try await gateway.statusAfterRevocation(writtenAt: revokedAt) { try await gateway.client.get("/auth/verify", bearer: access).status } == 401)
        }
    }
}
