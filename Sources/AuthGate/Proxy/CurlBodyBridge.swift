// CurlBodyBridge: carries a response body from a libcurl thread to the async response writer,
// with backpressure both ways: when the client reads slowly the curl thread waits (and so does
// the upstream connection), and when the client goes away the transfer is aborted.
import Foundation
import NIOCore

final class CurlBodyBridge: NIOAsyncSequenceProducerDelegate, @unchecked Sendable {
    typealias Sequence = NIOThrowingAsyncSequenceProducer<
        ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, CurlBodyBridge
    >

    // `@unchecked Sendable`: `demand` and `terminated` are only touched under `condition`.
    private let condition = NSCondition()
    private var demand = true
    private var terminated = false
    private var source: Sequence.Source!
    /// The sequence handed to the response; built with the bridge, so set once in `make()`.
    private(set) var sequence: Sequence!

    private init() {}

    static func make() -> CurlBodyBridge {
        let bridge = CurlBodyBridge()
        let made = Sequence.makeSequence(
            elementType: ByteBuffer.self, failureType: (any Error).self, backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8), finishOnDeinit: true,
            delegate: bridge)
        bridge.source = made.source
        bridge.sequence = made.sequence
        return bridge
    }

    /// From the curl thread: hands one chunk over, waiting while the client is behind. False
    /// when the client is gone (the transfer should stop).
    func deliver(_ bytes: UnsafeRawBufferPointer) -> Bool {
        condition.lock()
        demand = false
        condition.unlock()
        switch source.yield(ByteBuffer(bytes: bytes)) {
        case .produceMore:
            return true
        case .stopProducing:
            condition.lock()
            defer { condition.unlock() }
            while !demand && !terminated { condition.wait() }
            return !terminated
        case .dropped:
            return false
        }
    }

    /// The body is complete.
    func finish() { source.finish() }

    /// The transfer broke after the head was sent: the writer sees the error and closes the
    /// client connection, so a cut body never looks complete.
    func fail(_ error: any Error) { source.finish(error) }

    // MARK: NIOAsyncSequenceProducerDelegate

    func produceMore() {
        condition.lock()
        demand = true
        condition.signal()
        condition.unlock()
    }

    func didTerminate() {
        condition.lock()
        terminated = true
        condition.signal()
        condition.unlock()
    }
}
