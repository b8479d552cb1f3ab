// SQLiteConnectionPool: the store's connections to one WAL database (one writer, a few read-only
// readers) and the threads that run their blocking calls, one thread per connection.
import CSQLite
import Foundation
import NIOConcurrencyHelpers
import Synchronization

final class SQLiteConnectionPool: Sendable {
    /// Every write, in a BEGIN IMMEDIATE transaction; only `writeThread` uses it.
    let writer: SQLiteConnection
    /// Read-only connections; WAL lets them read while the writer writes.
    let readers: [SQLiteConnection]
    private let idleReaders: NIOLockedValueBox<[SQLiteConnection]>
    /// As many threads as readers, so a read that runs always finds an idle reader.
    private let readThreads: BlockingPool
    /// One thread for the one writer: writes queue here, never behind reads.
    private let writeThread: BlockingPool
    /// Set when close() starts: later work fails with `SQLiteError.closed`.
    private let closing = Atomic<Bool>(false)

    /// Reads are CPU-bound once the pages are cached: more readers than cores buys little.
    static var defaultReaderCount: Int { min(4, max(2, ProcessInfo.processInfo.activeProcessorCount)) }

    init(path: String, readers readerCount: Int = defaultReaderCount, busyTimeoutMilliseconds: Int32) throws {
        precondition(readerCount > 0, "at least one reader")
        // ":memory:" and "" would give every connection its own private database.
        guard !path.isEmpty, path != ":memory:" else {
            throw SQLiteError(code: SQLITE_CANTOPEN, message: "the store needs a file, not an in-memory database")
        }
        // The setting is a path; SQLite (built with URI support) would read "file:…" as a URI.
        let path = path.hasPrefix("file:") ? "./" + path : path
        try Self.createOwnerOnly(path)
        let writer = try SQLiteConnection(path: path, mode: .readWrite, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        var readers: [SQLiteConnection] = []
        do {
            try writer.withAccess { c in
                // WAL is set on the writer before any reader opens, and the first read creates the
                // -wal and -shm files a read-only connection needs. NORMAL sync is durable across
                // crashes of the process (not of the OS), the usual trade for WAL.
                let journalMode = try c.query("PRAGMA journal_mode=WAL").first?.first?.string
                guard journalMode?.lowercased() == "wal" else {
                    throw SQLiteError(code: SQLITE_CANTOPEN, message: "cannot use WAL (journal mode \(journalMode ?? "unknown"))")
                }
                try c.execute("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; SELECT count(*) FROM sqlite_schema;")
            }
            for _ in 0..<readerCount {
                readers.append(try SQLiteConnection(path: path, mode: .readOnly, busyTimeoutMilliseconds: busyTimeoutMilliseconds))
            }
        } catch {
            for reader in readers { reader.close() }
            writer.close()
            throw error
        }
        self.writer = writer
        self.readers = readers
        idleReaders = NIOLockedValueBox(readers)
        readThreads = BlockingPool(threads: readerCount)
        writeThread = BlockingPool(threads: 1)
    }

    /// Creates the database file owner-only (0600) if it is absent; SQLite then gives the -wal
    /// and -shm files it creates the database file's mode (umask aside). An existing file keeps
    /// the mode its operator gave it: we do not chmod a file we did not create (its -wal/-shm
    /// follow it). Read-only, so an existing file SQLite could open read-only is not refused here.
    private static func createOwnerOnly(_ path: String) throws {
        let fd = open(path, O_CREAT | O_RDONLY | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let reason = String(validatingCString: strerror(errno)) ?? "errno \(errno)"
            throw SQLiteError(code: SQLITE_CANTOPEN, message: "cannot create \(path): \(reason)")
        }
        Foundation.close(fd)
    }

    /// Runs `body` on an idle reader, on a read thread.
    func read<T: Sendable>(_ body: @Sendable @escaping (SQLiteConnection.Access) throws -> T) async throws -> T {
        try await run(on: readThreads) { [idleReaders] in
            // Cannot fail while there are as many read threads as readers; a 503 if it ever did.
            guard let reader = idleReaders.withLockedValue({ $0.popLast() }) else {
                throw SQLiteError(code: SQLITE_BUSY, message: "no idle reader")
            }
            defer { idleReaders.withLockedValue { $0.append(reader) } }
            return try reader.withAccess(body)
        }
    }

    /// Runs `body` in one IMMEDIATE transaction on the writer.
    func write<T: Sendable>(_ body: @Sendable @escaping (SQLiteConnection.Access) throws -> T) async throws -> T {
        try await run(on: writeThread) { [writer] in try writer.transaction(body) }
    }

    /// Runs `body` on the writer outside a transaction (a migration script brings its own).
    func withWriter<T: Sendable>(_ body: @Sendable @escaping (SQLiteConnection.Access) throws -> T) async throws -> T {
        try await run(on: writeThread) { [writer] in try writer.withAccess(body) }
    }

    /// Runs `body` on `threads`; once close() has begun, the pool's refusal (a cancellation, for
    /// work that was queued) is reported as `SQLiteError.closed`.
    private func run<T: Sendable>(on threads: BlockingPool, _ body: @Sendable @escaping () throws -> T) async throws -> T {
        guard !closing.load(ordering: .acquiring) else { throw SQLiteError.closed }
        do {
            return try await threads.run(body)
        } catch where !(error is SQLiteError) && closing.load(ordering: .acquiring) {
            throw SQLiteError.closed
        }
    }

    /// Every connection, writer first.
    var connections: [SQLiteConnection] { [writer] + readers }

    /// Stops the threads (work already running finishes), then closes the readers and last the
    /// writer, which checkpoints the WAL and removes -wal and -shm. False if a statement leaked.
    @discardableResult
    func close() async -> Bool {
        closing.store(true, ordering: .releasing)
        await readThreads.shutdown()
        await writeThread.shutdown()
        let readersClosed = readers.map { $0.close() }.allSatisfy { $0 }
        return writer.close() && readersClosed
    }
}
