// RevocationViewTests: the in-memory revocation view holds a revoked session only as long as a
// token issued before the revocation can live, whatever the session's own lifetime, and a full
// reload neither extends that nor reads revocations whose tokens are all expired.
@testable import AuthGate
import AuthGateTesting
import Foundation
import Testing

@Suite struct RevocationViewTests {
    @Test func aRevokedSessionIsKeptForTheAccessTTLNotTheSessionsLifetime() {
        let view = RevocationView(horizon: 960)
        let t0 = Date()
        let day = t0.addingTimeInterval(86400)
        #expect(view.apply(RevocationBatch(sessions: [(id: "s1", expiresAt: day)]), syncedAt: t0) == ["s1"])
        #expect(view.isRevoked(sessionID: "s1", jti: "-"))
        // Reported again by a reload ten minutes on: its deadline stands.
        #expect(view.apply(RevocationBatch(sessions: [(id: "s1", expiresAt: day)]), syncedAt: t0.addingTimeInterval(600)).isEmpty)
        // Past the horizon (and the skew the view keeps after it) no token of it can verify: gone.
        view.apply(RevocationBatch(), syncedAt: t0.addingTimeInterval(960 + JWTCodec.clockSkew + 61))
        #expect(!view.isRevoked(sessionID: "s1", jti: "-"))
        #expect(view.counts.sessions == 0)
        view.addSession("s2", expiresAt: day, now: t0)
        view.apply(RevocationBatch(), syncedAt: t0.addingTimeInterval(960 + JWTCodec.clockSkew + 61))
        #expect(!view.isRevoked(sessionID: "s2", jti: "-"))
    }

    @Test(arguments: TestStoreKind.testable)
    func aFullLoadSkipsRevocationsWhoseTokensHaveExpired(_ kind: TestStoreKind) async throws {
        try await withStore(kind) { store in
            let now = Date()
            let old = sampleSession(now: now, hash: "h-old"), recent = sampleSession(now: now, hash: "h-new")
            for session in [old, recent] { try await store.insertSession(session) }
            #expect(try await store.revokeSession(id: old.id, at: now.addingTimeInterval(-7200)))
            #expect(try await store.revokeSession(id: recent.id, at: now))
            let (batch, _) = try await store.revocations(after: nil, revokedSince: now.addingTimeInterval(-3600), now: now)
            #expect(batch.sessions.map(\.id) == [recent.id])
        }
    }
}
