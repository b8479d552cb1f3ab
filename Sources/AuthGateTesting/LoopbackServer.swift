// LoopbackServer: runs one Hummingbird middleware as a real HTTP/1.1 server on 127.0.0.1 and a
// free port, with awaited start and stop, for the in-process test upstreams.
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

final class LoopbackServer: Sendable {
    private struct Lifecycle {
        var port = 0
        var running = false
        var group: ServiceGroup?
        var task: Task<Void, Never>?
    }

    let name: String
    private let lifecycle = Mutex(Lifecycle())

    init(name: String) {
        self.name = name
    }

    /// "http://127.0.0.1:PORT" (valid after `start`).
    var baseURL: String { "http://127.0.0.1:\(self.port)" }

    var port: Int { self.lifecycle.withLock { $0.port } }

    /// Binds 127.0.0.1:0 and returns once the server listens; `handler` answers every request
    /// (routing included), so each fake controls its own 404s. Throws if it is not listening within
    /// 10 s. Does nothing while already running.
    func start(_ handler: some RouterMiddleware<ChannelRequestContext>) async throws {
        let alreadyRunning = self.lifecycle.withLock { lifecycle -> Bool in
            if lifecycle.running { return true }
            lifecycle.running = true
            return false
        }
        if alreadyRunning { return }

        var logger = Logger(label: self.name)
        logger.logLevel = .critical

        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        let failure = Mutex<String?>(nil)

        let router = Router(context: ChannelRequestContext.self)
        router.add(middleware: handler)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: self.name),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            },
            logger: logger
        )
        // Short grace: a test server must not hold a test up on a deliberately slow request. No
        // cancellation limit: past it ServiceLifecycle calls fatalError, which on a loaded
        // machine took the whole test process (every suite) down with it.
        var configuration = ServiceGroupConfiguration(services: [app], logger: logger)
        configuration.maximumGracefulShutdownDuration = .seconds(2)
        let group = ServiceGroup(configuration: configuration)
        let task = Task {
            do {
                try await group.run()
            } catch {
                failure.withLock { $0 = String(describing: error) }
            }
            portContinuation.finish()
        }
        self.lifecycle.withLock {
            $0.group = group
            $0.task = task
        }

        let name = self.name
        let listening = try await withDeadline(seconds: 10) { () async -> Int? in
            for await port in ports { return port }
            return nil
        }
        guard let listening else { throw TestSetupError("\(name) did not start: not listening after 10 s") }
        guard let port = listening, port > 0 else {
            await self.stop()
            throw TestSetupError("\(name) did not start: \(failure.withLock { $0 } ?? "it stopped before listening")")
        }
        self.lifecycle.withLock { $0.port = port }
    }

    /// Graceful shutdown; returns once the server has stopped. Idempotent.
    func stop() async {
        let (group, task) = self.lifecycle.withLock { lifecycle -> (ServiceGroup?, Task<Void, Never>?) in
            defer {
                lifecycle.group = nil
                lifecycle.task = nil
                lifecycle.running = false
            }
            return (lifecycle.group, lifecycle.task)
        }
        if let group { await group.triggerGracefulShutdown() }
        if let task { await task.value }
    }
}
