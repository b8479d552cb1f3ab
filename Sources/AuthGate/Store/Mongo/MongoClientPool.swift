// MongoClientPool: owns one mongoc_client_pool_t. A client is popped, used and pushed back inside
// one blocking work item, never across an await; the thread pool is no larger than the client
// pool, so a pop can never wait on a client held by a suspended task.
import CMongoC
import Foundation
import Logging

/// `@unchecked Sendable`: mongoc_client_pool_t is thread-safe; `pool` is written only in init and close().
final class MongoClientPool: @unchecked Sendable {
    static let initialized: Bool = {
        mongoc_init()
        // libmongoc prints to stderr by default, DEBUG included; route it through swift-log.
        mongoc_log_set_handler({ level, domain, message, _ in
            MongoClientPool.forward(level: level, domain: domain, message: message)
        }, nil)
        return true
    }()

    private static let mongocLogger = Logger(label: "authgate.mongoc")

    private static func forward(level: mongoc_log_level_t, domain: UnsafePointer<CChar>?, message: UnsafePointer<CChar>?) {
        let swiftLevel: Logger.Level = switch level {
        case MONGOC_LOG_LEVEL_ERROR, MONGOC_LOG_LEVEL_CRITICAL: .error
        case MONGOC_LOG_LEVEL_WARNING: .warning
        case MONGOC_LOG_LEVEL_MESSAGE, MONGOC_LOG_LEVEL_INFO: .info
        case MONGOC_LOG_LEVEL_DEBUG: .debug
        default: .trace
        }
        guard mongocLogger.logLevel <= swiftLevel else { return }
        let text = message.map { String(cString: $0) } ?? ""
        mongocLogger.log(level: swiftLevel, "\(text)", metadata: ["domain": "\(domain.map { String(cString: $0) } ?? "")"])
    }

    private var pool: OpaquePointer?
    let databaseName: String
    let threads: BlockingPool
    let control: BlockingPool

    init(uri text: String, timeout: TimeInterval, threads threadCount: Int = 4) throws {
        _ = Self.initialized
        var error = bson_error_t()
        guard let uri = mongoc_uri_new_with_error(text, &error) else {
            // The URI may hold a password: never echo it back.
            throw StoreError.failed("invalid MongoDB URI")
        }
        defer { mongoc_uri_destroy(uri) }
        databaseName = mongoc_uri_get_database(uri).map { String(cString: $0) } ?? "authgate"
        // The store operation timeout bounds server selection and socket waits, unless the URI sets them.
        let milliseconds = Int32(timeout * 1000)
        for option in [MONGOC_URI_SERVERSELECTIONTIMEOUTMS, MONGOC_URI_SOCKETTIMEOUTMS, MONGOC_URI_CONNECTTIMEOUTMS]
        where !text.lowercased().contains(option.lowercased() + "=") {
            mongoc_uri_set_option_as_int32(uri, option, milliseconds)
        }
        // One client more than request threads: the control thread's (see `control`).
        mongoc_uri_set_option_as_int32(uri, MONGOC_URI_MAXPOOLSIZE, Int32(threadCount + 1))
        guard let pool = mongoc_client_pool_new(uri) else { throw StoreError.failed("cannot create MongoDB client pool") }
        mongoc_client_pool_set_error_api(pool, MONGOC_ERROR_API_VERSION_2)
        mongoc_client_pool_set_appname(pool, "authgate")
        self.pool = pool
        threads = BlockingPool(threads: threadCount)
        control = BlockingPool(threads: 1)
    }

    deinit { assert(pool == nil, "MongoClientPool deinit before close()") }

    func close() async {
        await threads.shutdown()
        await control.shutdown()
        if let pool {
            mongoc_client_pool_destroy(pool)
            self.pool = nil
        }
    }

    /// Runs `body` with a client on the Mongo thread pool; `control` work (the revocation poll,
    /// readiness pings) has a thread of its own, so it never queues behind request traffic: a
    /// revocation must reach this instance within a second however busy it is.
    @discardableResult
    func withClient<T: Sendable>(control isControl: Bool = false, _ body: @Sendable @escaping (MongoClient) throws -> T) async throws -> T {
        try await (isControl ? control : threads).run { [self] in
            guard let pool = self.pool, let client = mongoc_client_pool_pop(pool) else {
                throw StoreError.unavailable("client pool closed")
            }
            defer { mongoc_client_pool_push(pool, client) }
            return try body(MongoClient(client: client, databaseName: self.databaseName))
        }
    }
}
