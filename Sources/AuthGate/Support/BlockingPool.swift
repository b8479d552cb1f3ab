// BlockingPool: a dedicated NIOThreadPool for one C library's blocking calls, so they never run
// on an event loop and never starve another library's work. With a queue limit it refuses work
// past threads + limit at once (the caller answers 503) instead of queueing without bound.
import NIOPosix
import Synchronization

public enum BlockingPoolError: Error, Equatable {
    /// Every thread is busy and the queue is full.
    case saturated
}

public final class BlockingPool: Sendable {
    let pool: NIOThreadPool
    let threads: Int
    /// Work items allowed to wait for a thread; nil: no limit (store calls, bounded by requests).
    let queueLimit: Int?
    private let inFlight = Atomic<Int>(0)

    public init(threads: Int, queueLimit: Int? = nil) {
        self.threads = threads
        self.queueLimit = queueLimit
        pool = NIOThreadPool(numberOfThreads: threads)
        pool.start()
    }

    /// Work running or waiting now.
    public var load: Int { inFlight.load(ordering: .relaxed) }

    public func run<T: Sendable>(_ body: @Sendable @escaping () throws -> T) async throws -> T {
        if let queueLimit {
            let admitted = inFlight.add(1, ordering: .relaxed).newValue
            guard admitted <= threads + queueLimit else {
                inFlight.subtract(1, ordering: .relaxed)
                throw BlockingPoolError.saturated
            }
            defer { inFlight.subtract(1, ordering: .relaxed) }
            return try await pool.runIfActive(body)
        }
        return try await pool.runIfActive(body)
    }

    public func shutdown() async {
        try? await pool.shutdownGracefully()
    }
}
