// SQLiteDatabase: owns one sqlite3 connection; every call is serialised by a lock and made from
// a BlockingPool thread by the store.
import CSQLite
import Foundation
import NIOConcurrencyHelpers

enum SQLiteValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    var int: Int64? { if case .integer(let v) = self { v } else if case .real(let v) = self { Int64(v) } else { nil } }
    var double: Double? { if case .real(let v) = self { v } else if case .integer(let v) = self { Double(v) } else { nil } }
    var string: String? { if case .text(let v) = self { v } else { nil } }
    var bytes: [UInt8]? { if case .blob(let v) = self { v } else { nil } }
    var date: Date? { double.map { Date(timeIntervalSince1970: $0) } }
}

extension SQLiteValue {
    init(_ date: Date?) { self = date.map { .real($0.timeIntervalSince1970) } ?? .null }
    init(_ text: String?) { self = text.map { .text($0) } ?? .null }
}

struct SQLiteError: Error, CustomStringConvertible {
    let code: Int32
    let message: String
    var description: String { "sqlite error \(code): \(message)" }
    var isConstraint: Bool { code & 0xff == SQLITE_CONSTRAINT }
    var isBusy: Bool { code & 0xff == SQLITE_BUSY || code & 0xff == SQLITE_LOCKED }
}

/// `@unchecked Sendable`: the handle is only touched while `lock` is held.
final class SQLiteDatabase: @unchecked Sendable {
    private var handle: OpaquePointer?
    private let lock = NIOLock()

    init(path: String, busyTimeoutMilliseconds: Int32) throws {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(db)
            throw SQLiteError(code: rc, message: message)
        }
        handle = db
        sqlite3_busy_timeout(db, busyTimeoutMilliseconds)
        // WAL lets the CLI write while a server reads; NORMAL sync is durable across crashes of
        // the process (not of the OS), the usual trade for WAL.
        try execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")
    }

    deinit { assert(handle == nil, "SQLiteDatabase deinit before close()") }

    func close() {
        lock.withLock {
            sqlite3_close_v2(handle)
            handle = nil
        }
    }

    func execute(_ sql: String) throws {
        try lock.withLock {
            guard let handle else { throw SQLiteError(code: SQLITE_MISUSE, message: "closed") }
            var errorMessage: UnsafeMutablePointer<CChar>?
            let rc = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
            if rc != SQLITE_OK {
                let message = errorMessage.map { String(cString: $0) } ?? ""
                sqlite3_free(errorMessage)
                throw SQLiteError(code: rc, message: message)
            }
        }
    }

    /// Runs `body` inside one IMMEDIATE transaction (the write lock is taken up front, so a
    /// read-then-write cannot deadlock against another writer).
    func transaction<T>(_ body: (Connection) throws -> T) throws -> T {
        try lock.withLock {
            guard let handle else { throw SQLiteError(code: SQLITE_MISUSE, message: "closed") }
            let connection = Connection(handle: handle)
            try connection.run("BEGIN IMMEDIATE")
            do {
                let result = try body(connection)
                try connection.run("COMMIT")
                return result
            } catch {
                _ = try? connection.run("ROLLBACK")
                throw error
            }
        }
    }

    func read<T>(_ body: (Connection) throws -> T) throws -> T {
        try lock.withLock {
            guard let handle else { throw SQLiteError(code: SQLITE_MISUSE, message: "closed") }
            return try body(Connection(handle: handle))
        }
    }

    /// A borrowed view of the handle, valid only inside `transaction` or `read`.
    struct Connection {
        let handle: OpaquePointer

        @discardableResult
        func run(_ sql: String, _ bindings: [SQLiteValue] = []) throws -> Int {
            _ = try query(sql, bindings)
            return Int(sqlite3_changes(handle))
        }

        func query(_ sql: String, _ bindings: [SQLiteValue] = []) throws -> [[SQLiteValue]] {
            var statement: OpaquePointer?
            guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
                throw error(sqlite3_errcode(handle))
            }
            defer { sqlite3_finalize(statement) }
            for (offset, value) in bindings.enumerated() {
                let index = Int32(offset + 1)
                let rc: Int32
                switch value {
                case .null: rc = sqlite3_bind_null(statement, index)
                case .integer(let v): rc = sqlite3_bind_int64(statement, index, v)
                case .real(let v): rc = sqlite3_bind_double(statement, index, v)
                case .text(let v): rc = csqlite_bind_text(statement, index, v, -1)
                case .blob(let v): rc = v.withUnsafeBytes { csqlite_bind_blob(statement, index, $0.baseAddress, Int32($0.count)) }
                }
                guard rc == SQLITE_OK else { throw error(rc) }
            }
            var rows: [[SQLiteValue]] = []
            while true {
                let rc = sqlite3_step(statement)
                if rc == SQLITE_DONE { break }
                guard rc == SQLITE_ROW else { throw error(rc) }
                let columns = sqlite3_column_count(statement)
                var row: [SQLiteValue] = []
                row.reserveCapacity(Int(columns))
                for column in 0..<columns {
                    switch sqlite3_column_type(statement, column) {
                    case SQLITE_INTEGER: row.append(.integer(sqlite3_column_int64(statement, column)))
                    case SQLITE_FLOAT: row.append(.real(sqlite3_column_double(statement, column)))
                    case SQLITE_TEXT: row.append(.text(String(cString: sqlite3_column_text(statement, column))))
                    case SQLITE_BLOB:
                        let count = Int(sqlite3_column_bytes(statement, column))
                        if count == 0 {
                            row.append(.blob([]))
                        } else {
                            let pointer = sqlite3_column_blob(statement, column)!
                            row.append(.blob(Array(UnsafeRawBufferPointer(start: pointer, count: count))))
                        }
                    default: row.append(.null)
                    }
                }
                rows.append(row)
            }
            return rows
        }

        private func error(_ code: Int32) -> SQLiteError {
            SQLiteError(code: sqlite3_extended_errcode(handle), message: String(cString: sqlite3_errmsg(handle)))
        }
    }
}
