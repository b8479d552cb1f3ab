// Resealer: `authgate keys rotate --reseal`: seals every stored upstream token again under the
// active sealing key, so an older key can be retired without signing anyone out.
public import Foundation
public import Logging

public struct Resealer: Sendable {
    let store: any SessionStore
    let sealer: Sealer
    let logger: Logger

    public init(store: any SessionStore, keys: KeyRing, logger: Logger) {
        self.store = store
        sealer = Sealer(keys: keys)
        self.logger = logger
    }

    public struct Outcome: Sendable, Equatable {
        /// Sealed again under the active key.
        public var resealed = 0
        /// Already under the active key.
        public var current = 0
        /// Could not be opened (a key already removed): these sessions lose their upstream link.
        public var unreadable = 0
        /// Renewed while being resealed: the renewal wrote them under the active key already.
        public var renewedMeanwhile = 0
    }

    public func resealAll(now: Date = Date()) async throws -> Outcome {
        var outcome = Outcome()
        let active = sealer.keys.activeSealingKeyID
        for session in try await store.sessions(.all, now: now) {
            guard let sealed = session.upstream else { continue }
            guard sealed.keyID != active else {
                outcome.current += 1
                continue
            }
            guard var plaintext = try? sealer.open(sealed, associatedData: session.id) else {
                outcome.unreadable += 1
                logger.warning("cannot open a session's upstream tokens", metadata: ["authgate.session.id": "\(session.id)", "authgate.key": "\(sealed.keyID)"])
                continue
            }
            let resealed = sealer.seal(plaintext, associatedData: session.id)
            Sodium.wipe(&plaintext)
            // Only over the box just read: a renewal written in between must not be undone.
            if try await store.updateUpstream(sessionID: session.id, upstream: resealed, replacing: sealed) {
                outcome.resealed += 1
            } else {
                outcome.renewedMeanwhile += 1
            }
        }
        return outcome
    }
}
