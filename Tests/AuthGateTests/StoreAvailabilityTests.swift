// StoreAvailabilityTests: says, as a skipped test with its reason, when the store-parameterized
// tests ran on SQLite only because MongoDB (mongoeco) cannot run here. Under CI it never skips.
import AuthGateTesting
import Testing

@Suite struct StoreAvailabilityTests {
    @Test(.enabled(if: MongoEcoServer.isAvailable, Comment(rawValue: MongoEcoServer.unavailableReason)))
    func mongoStoreCasesRun() async throws {
        // The shared server starts and answers: the Mongo cases of every store test are real.
        #expect(TestStoreKind.testable.contains(.mongo))
        let uri = try await MongoEcoServer.sharedURI()
        #expect(uri.hasPrefix("mongodb://127.0.0.1:"))
    }
}
