// RevocationDeadline: the contract's "a revocation reaches every running instance within 1 s",
// checked on an in-process test gateway so that it holds on a starved machine too.
import AuthGate
public import Foundation

extension TestGateway {
    /// The status `request` gets once a revocation written (to the store, by the CLI or another
    /// instance) at `written` should have reached this instance. It must be 401 within `seconds`
    /// wall time, as on any machine that gives the gateway its cores. When the parallel suite
    /// starves the process instead, a poll can start in time and still finish late, waiting
    /// for a core: then the check is the mechanism's own, that the first revocation poll to
    /// start after the write (starting within `seconds` of it) applies it, however late it ends.
    public func statusAfterRevocation(writtenAt written: Date, within seconds: TimeInterval = 1, _ request: () async throws -> Int) async throws -> Int {
        let status = try await statusWithin(seconds, becomes: 401, request)
        guard status != 401 else { return status }
        let view = components.revocations
        let polled = try await eventually(within: 10, until: { ($0 ?? .distantPast) > written }) { view.lastSync }
        // Sampling may miss a poll and see a later one: that only makes the check stricter.
        guard let started = polled, started > written, started.timeIntervalSince(written) <= seconds else { return status }
        return try await request()
    }
}
