// LoginRegulationTests: sign-in throttling as an attacker meets it: parallel guesses cannot all
// be checked (each attempt is counted before the password is), a sprayer cannot reset an
// address by signing in to an account of their own, retries against a banned account do not
// charge the address, an IPv6 client is one client per /64, and the operator lists and lifts bans.
@testable import AuthGate
import AuthGateTesting
import Foundation
import Testing

@Suite struct LoginRegulationTests {
    /// 60 wrong passwords at once: at most the limit (plus nothing) reach ShotGrid.
    @Test(arguments: TestStoreKind.testable)
    func parallelGuessesReachTheProviderAtMostTheLimit(_ kind: TestStoreKind) async throws {
        try await withShotGridGateway(kind, configure: { $0.loginMaxFailures = 5 }) { gateway, fake in
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<60 {
                    group.addTask { try await gateway.client.postJSON("/auth/login", ["username": "alice", "password": "guess-\(UUID())"]).status }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(fake.passwordGrants <= 5, "\(fake.passwordGrants) guesses reached ShotGrid")
            #expect(statuses.allSatisfy { $0 == 401 || $0 == 429 } && statuses.filter { $0 == 429 }.count >= 55)
            // Guessing on, one at a time: still no more than the limit is ever checked, and then
            // the right password is refused too while the ban lasts.
            for _ in 0..<10 { _ = try await gateway.client.postJSON("/auth/login", ["username": "alice", "password": "guess-\(UUID())"]) }
            #expect(fake.passwordGrants <= 5, "\(fake.passwordGrants) guesses reached ShotGrid")
            #expect(try await gateway.client.postJSON("/auth/login", ["username": "alice", "password": "wonderland-pass"]).status == 429)
        }
    }

    /// Four guesses at a victim, then a login of the sprayer's own, round after round: the
    /// address still reaches the limit (only the user's counter is cleared by a success).
    @Test func aSprayerCannotResetTheAddressWithOwnLogins() async throws {
        try await withGateway(.sqlite, configure: { $0.loginMaxFailures = 5 }) { gateway in
            try await gateway.components.store.insertUser(
                UserRecord(id: "user-mallory", login: "mallory", email: "", name: "", passwordHash: try await TestPasswords.hash("mallorys-own-pw"), createdAt: Date()))
            var limited = false
            for _ in 0..<3 where !limited {
                for _ in 0..<4 {
                    let status = try await login(gateway, "alice", "wrong-guess-123").status
                    if status == 429 { limited = true }
                }
                if try await login(gateway, "mallory", "mallorys-own-pw").status == 429 { limited = true }
            }
            #expect(limited, "the address was never limited")
        }
    }

    /// Someone retrying a banned account from a shared address is refused without an attempt:
    /// the address is not charged, so the others behind it still sign in.
    @Test(arguments: TestStoreKind.testable)
    func retriesAgainstABannedAccountDoNotChargeTheAddress(_ kind: TestStoreKind) async throws {
        try await withGateway(kind, configure: { $0.loginMaxFailures = 3 }) { gateway in
            let store = gateway.components.store
            try await store.insertUser(
                UserRecord(id: "user-bob", login: "bob", email: "", name: "", passwordHash: try await TestPasswords.hash("bobs-own-pw-1"), createdAt: Date()))
            try await store.banLogin(key: LoginRegulator.userKey("alice"), until: Date().addingTimeInterval(300))
            for _ in 0..<8 { #expect(try await login(gateway, "alice", "wrong-guess-123").status == 429) }
            #expect(try await login(gateway, "bob", "bobs-own-pw-1").status == 200)
            #expect(try await store.loginBans(now: Date()).map(\.key) == ["user:alice"])
        }
    }

    @Test func addressesAreCountedAsTheNetworkMeansThem() {
        #expect(LoginRegulator.addressKey("2001:db8:1:2:aaaa::1") == LoginRegulator.addressKey("2001:db8:1:2:bbbb::2"))
        #expect(LoginRegulator.addressKey("2001:db8:1:2::1") != LoginRegulator.addressKey("2001:db8:1:3::1"))
        #expect(LoginRegulator.addressKey("::ffff:192.0.2.7") == "ip:192.0.2.7")
        #expect(LoginRegulator.addressKey("192.0.2.7") != LoginRegulator.addressKey("192.0.2.8"))
        #expect(LoginRegulator.userKey("Alice") == LoginRegulator.userKey("alice"))
    }

    @Test(arguments: TestStoreKind.testable)
    func operatorListsAndLiftsBans(_ kind: TestStoreKind) async throws {
        try await withGateway(kind, configure: { $0.loginMaxFailures = 2 }) { gateway in
            for _ in 0..<2 { #expect(try await login(gateway, "alice", "wrong-guess-123").status == 401) }
            #expect(try await login(gateway).status == 429)
            let listed = try await gateway.cli.run(["bans", "list", "--json"])
            #expect(Set(listed.jsonArray.compactMap { $0["key"] as? String }) == ["user:alice", "ip:127.0.0.1"], "\(listed)")
            #expect(try await gateway.cli.run(["bans", "clear", "user:alice"]).status == 0)
            #expect(try await login(gateway).status == 429)  // the address is still banned
            let cleared = try await gateway.cli.run(["bans", "clear", "--all"])
            #expect(cleared.status == 0 && cleared.stderr.contains("ban.cleared"))
            #expect(try await login(gateway).status == 200)
            #expect(try await gateway.cli.run(["bans", "clear", "user:nobody"]).status == 1)
            #expect(try await gateway.cli.run(["bans", "clear"]).status == 2)
        }
    }
}
