// BSONTarget: BSON bytes as a MongoDB reply brings them: decoded, read as a session and a user
// document, and written back; a decoded document must re-encode and decode to itself.
@testable import AuthGate
import Foundation

enum BSONTarget {
    static func run(_ input: FuzzInput) {
        let bytes = input.bytesArray
        guard let document = try? BSONDocument(bsonBytes: bytes) else { return }
        if let session = try? MongoSessionStore.session(from: document) {
            // What updateSession would write back must encode (or fail with a BSONError).
            checkEncodes(MongoSessionStore.document(session))
        }
        _ = try? MongoSessionStore.user(from: document)
        _ = document.debugDescription
        // Re-encoding normalises (ObjectId to string, array keys renumbered); from there on it
        // is a fixed point.
        guard let once = encoded(document) else { return }
        guard let decoded = try? BSONDocument(bsonBytes: once) else { fatalError("our own encoding did not decode") }
        guard let twice = encoded(decoded) else { fatalError("a decoded re-encoding did not encode again") }
        expect(once == twice, "re-encoding is not stable")
    }

    static func encoded(_ document: BSONDocument) -> [UInt8]? {
        do {
            return try document.bsonBytes()
        } catch let error as BSONError {
            // Dates past ±2^63 ms cannot be written back, and types read as documents (regex,
            // timestamp, code with scope) add a level that may pass the nesting cap.
            expect(error.reason == .dateOutOfRange || error.reason == .tooDeep, "decoded document does not encode: \(error)")
            return nil
        } catch {
            fatalError("unexpected error \(error)")
        }
    }

    static func checkEncodes(_ document: BSONDocument) {
        _ = encoded(document)
    }
}

extension FuzzInput {
    var bytesArray: [UInt8] {
        var copy = self
        return copy.rest()
    }
}
