// SQLiteError: a result code and message from SQLite; the store maps it to StoreError.
import CSQLite

struct SQLiteError: Error, CustomStringConvertible {
    let code: Int32
    let message: String
    var description: String { "sqlite error \(code): \(message)" }
    var isConstraint: Bool { code & 0xff == SQLITE_CONSTRAINT }
    var isBusy: Bool { code & 0xff == SQLITE_BUSY || code & 0xff == SQLITE_LOCKED }

    /// Work refused because the store is closing or closed.
    static let closed = SQLiteError(code: SQLITE_MISUSE, message: "store closed")
    var isClosed: Bool { code == Self.closed.code && message == Self.closed.message }
}
