// MongoError: libmongoc's (domain, code) pairs, sorted into what the gateway acts on.
import CMongoC

enum MongoError {
    /// Maps a bson_error_t into StoreError; the C message goes to logs only (it can name hosts).
    static func storeError(_ error: bson_error_t) -> StoreError {
        var error = error
        let message = withUnsafeBytes(of: &error.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        switch (error.domain, error.code) {
        case (_, 11000), (_, 11001), (_, 12582):
            return .duplicate
        case (UInt32(MONGOC_ERROR_SERVER_SELECTION.rawValue), _), (UInt32(MONGOC_ERROR_STREAM.rawValue), _),
            (UInt32(MONGOC_ERROR_CLIENT.rawValue), UInt32(MONGOC_ERROR_CLIENT_AUTHENTICATE.rawValue)):
            return .unavailable(message)
        default:
            // Network-level failures (e.g. a socket timeout) surface in the stream domain; anything
            // else reported by the server is a real error, not an outage.
            return .failed("\(error.domain).\(error.code): \(message)")
        }
    }
}
