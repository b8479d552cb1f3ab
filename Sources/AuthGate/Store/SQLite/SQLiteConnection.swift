// SQLiteConnection: owns one sqlite3 handle and its cache of prepared statements; one thread at a
// time uses it, under its lock.
import CSQLite
import NIOConcurrencyHelpers

/// `@unchecked Sendable`: `handle` and `statements` are only read or written while `lock` is
/// held, so one thread at a time reaches the C handle (opened NOMUTEX because of that).
final class SQLiteConnection: @unchecked Sendable {
    enum Mode: Sendable { case readWrite, readOnly }

    private var handle: OpaquePointer?
    /// Prepared statements by SQL text; each is reset after use and finalized by `close()`.
    private var statements: [String: OpaquePointer] = [:]
    private let lock = NIOLock()

    /// Opens an existing database file: the pool creates it first, with the mode it wants.
    init(path: String, mode: Mode, busyTimeoutMilliseconds: Int32) throws {
        var db: OpaquePointer?
        let flags = (mode == .readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map(Self.errorMessage) ?? "cannot open"
            sqlite3_close(db)  // a failed open still hands back a handle to free
            throw SQLiteError(code: rc, message: message)
        }
        handle = db
        sqlite3_busy_timeout(db, busyTimeoutMilliseconds)
    }

    deinit { assert(handle == nil, "SQLiteConnection deinit before close()") }

    /// Finalizes every cached statement and closes the handle. False when SQLite still held a
    /// statement the cache did not know (a leak); the handle is then freed once that one is.
    @discardableResult
    func close() -> Bool {
        lock.withLock {
            guard let handle else { return true }
            for statement in statements.values { sqlite3_finalize(statement) }
            statements.removeAll()
            self.handle = nil
            // Plain close refuses (SQLITE_BUSY) while a statement is unfinalized: that is the check.
            guard sqlite3_close(handle) == SQLITE_OK else {
                sqlite3_close_v2(handle)
                return false
            }
            return true
        }
    }

    var isClosed: Bool { lock.withLock { handle == nil } }

    /// Statements held in the cache.
    var cachedStatementCount: Int { lock.withLock { statements.count } }

    /// Statements SQLite has open on this handle, cached or not.
    var openStatementCount: Int {
        lock.withLock {
            guard let handle else { return 0 }
            var count = 0
            var statement = sqlite3_next_stmt(handle, nil)
            while let current = statement {
                count += 1
                statement = sqlite3_next_stmt(handle, current)
            }
            return count
        }
    }

    /// Runs `body` with the lock held; `Access` is valid only inside it.
    func withAccess<T>(_ body: (Access) throws -> T) throws -> T {
        try lock.withLock {
            guard let handle else { throw SQLiteError(code: SQLITE_MISUSE, message: "connection closed") }
            return try body(Access(connection: self, handle: handle))
        }
    }

    /// Runs `body` inside one IMMEDIATE transaction (the write lock is taken up front, so a
    /// read-then-write cannot deadlock against another writer, e.g. the CLI).
    func transaction<T>(_ body: (Access) throws -> T) throws -> T {
        try withAccess { access in
            try access.run("BEGIN IMMEDIATE")
            do {
                let result = try body(access)
                try access.run("COMMIT")
                return result
            } catch {
                _ = try? access.run("ROLLBACK")
                throw error
            }
        }
    }

    /// The cached statement for `sql`, prepared on first use. The caller holds the lock.
    private func statement(_ sql: String, _ handle: OpaquePointer) throws -> OpaquePointer {
        if let cached = statements[sql] { return cached }
        var prepared: OpaquePointer?
        try sql.withCString { text in
            var tail: UnsafePointer<CChar>?
            // PERSISTENT: the statement lives as long as the connection, so SQLite allocates it
            // outside its short-lived lookaside memory.
            let rc = sqlite3_prepare_v3(handle, text, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &prepared, &tail)
            guard rc == SQLITE_OK, prepared != nil else { throw Self.error(handle) }
            // One statement per text: anything after it would be silently skipped.
            if let tail, tail.pointee != 0 {
                let rest = String(validatingCString: tail) ?? ""
                if !rest.allSatisfy({ $0.isWhitespace || $0 == ";" }) {
                    sqlite3_finalize(prepared)
                    prepared = nil
                    throw SQLiteError(code: SQLITE_MISUSE, message: "more than one statement: \(sql)")
                }
            }
        }
        guard let prepared else { throw SQLiteError(code: SQLITE_MISUSE, message: "empty statement") }
        statements[sql] = prepared
        return prepared
    }

    private static func errorMessage(_ handle: OpaquePointer) -> String {
        sqlite3_errmsg(handle).flatMap { String(validatingCString: $0) } ?? "unknown error"
    }

    private static func error(_ handle: OpaquePointer) -> SQLiteError {
        SQLiteError(code: sqlite3_extended_errcode(handle), message: errorMessage(handle))
    }

    /// The connection lent to one `withAccess` body: runs cached statements.
    struct Access {
        fileprivate let connection: SQLiteConnection
        fileprivate let handle: OpaquePointer

        /// Runs one statement; returns the rows it changed.
        @discardableResult
        func run(_ sql: String, _ bindings: [SQLiteValue] = []) throws -> Int {
            _ = try query(sql, bindings)
            return Int(sqlite3_changes(handle))
        }

        func query(_ sql: String, _ bindings: [SQLiteValue] = []) throws -> [[SQLiteValue]] {
            let statement = try connection.statement(sql, handle)
            // Reset even after an error, so the cached statement never holds a read snapshot open.
            defer {
                sqlite3_reset(statement)
                sqlite3_clear_bindings(statement)
            }
            for (offset, value) in bindings.enumerated() {
                let rc = try bind(value, at: Int32(offset + 1), statement)
                guard rc == SQLITE_OK else { throw SQLiteConnection.error(handle) }
            }
            var rows: [[SQLiteValue]] = []
            while true {
                let rc = sqlite3_step(statement)
                if rc == SQLITE_DONE { break }
                guard rc == SQLITE_ROW else { throw SQLiteConnection.error(handle) }
                let columns = sqlite3_column_count(statement)
                var row: [SQLiteValue] = []
                row.reserveCapacity(Int(columns))
                for column in 0..<columns { row.append(try value(column, statement)) }
                rows.append(row)
            }
            return rows
        }

        /// Runs a script of statements (migrations), uncached.
        func execute(_ script: String) throws {
            var errorMessage: UnsafeMutablePointer<CChar>?
            let rc = sqlite3_exec(handle, script, nil, nil, &errorMessage)
            guard rc == SQLITE_OK else {
                let message = errorMessage.flatMap { String(validatingCString: $0) } ?? ""
                sqlite3_free(errorMessage)
                throw SQLiteError(code: rc, message: message)
            }
        }

        /// Text is bound with its UTF-8 byte count, so an embedded NUL is part of the value
        /// (a NUL-terminated bind would make "admin\0x" match "admin").
        private func bind(_ value: SQLiteValue, at index: Int32, _ statement: OpaquePointer) throws -> Int32 {
            switch value {
            case .null:
                return sqlite3_bind_null(statement, index)
            case .integer(let v):
                return sqlite3_bind_int64(statement, index, v)
            case .real(let v):
                return sqlite3_bind_double(statement, index, v)
            case .text(let v):
                let count = v.utf8.count
                guard count <= Int32.max else { throw SQLiteError(code: SQLITE_TOOBIG, message: "text too long") }
                return v.withCString { csqlite_bind_text(statement, index, $0, Int32(count)) }
            case .blob(let v):
                guard v.count <= Int32.max else { throw SQLiteError(code: SQLITE_TOOBIG, message: "blob too long") }
                return v.withUnsafeBytes { csqlite_bind_blob(statement, index, $0.baseAddress, Int32($0.count)) }
            }
        }

        /// Text and blobs are read by byte count, never up to a NUL.
        private func value(_ column: Int32, _ statement: OpaquePointer) throws -> SQLiteValue {
            switch sqlite3_column_type(statement, column) {
            case SQLITE_INTEGER:
                return .integer(sqlite3_column_int64(statement, column))
            case SQLITE_FLOAT:
                return .real(sqlite3_column_double(statement, column))
            case SQLITE_TEXT:
                // Pointer first, then the size: the documented order for the size to match.
                let pointer = sqlite3_column_text(statement, column)
                let count = Int(sqlite3_column_bytes(statement, column))
                guard let pointer else {
                    guard count == 0 else { throw SQLiteConnection.error(handle) }  // out of memory
                    return .text("")
                }
                return .text(String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self))
            case SQLITE_BLOB:
                let pointer = sqlite3_column_blob(statement, column)
                let count = Int(sqlite3_column_bytes(statement, column))
                guard let pointer else {
                    guard count == 0 else { throw SQLiteConnection.error(handle) }
                    return .blob([])
                }
                return .blob(Array(UnsafeRawBufferPointer(start: pointer, count: count)))
            default:
                return .null
            }
        }
    }
}
