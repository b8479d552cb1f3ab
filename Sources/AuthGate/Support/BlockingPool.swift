// BlockingPool: a dedicated NIOThreadPool for one C library's blocking calls, so they never run
// on an event loop and never starve another library's work.
import NIOPosix

public final class BlockingPool: Sendable {
    let pool: NIOThreadPool

    public init(threads: Int) {
        pool = NIOThreadPool(numberOfThreads: threads)
        pool.start()
    }

    public func run<T: Sendable>(_ body: @Sendable @escaping () throws -> T) async throws -> T {
        try await pool.runIfActive(body)
    }

    public func shutdown() async {
        try? await pool.shutdownGracefully()
    }
}
