// UploadPipe: carries a request body from the async request reader to a libcurl thread's read
// callback, a few chunks at a time: the reader awaits while the pipe is full, the curl thread
// blocks while it is empty.
import Foundation
import NIOCore

final class UploadPipe: @unchecked Sendable {
    // `@unchecked Sendable`: all state is touched under `condition`.
    private let condition = NSCondition()
    private var chunks: [ByteBuffer] = []
    private var ended = false
    private var failed = false
    private var closedByReader = false
    private var spaceWaiter: CheckedContinuation<Void, Never>?
    private let capacity = 4

    /// Feeds the body in (run as its own task): the chunks already read, then the rest of the
    /// body; stops early when curl no longer reads.
    func fill(prefix: [ByteBuffer], rest: RequestBodyReader) async {
        do {
            for chunk in prefix { guard await push(chunk) else { return } }
            while let chunk = try await rest.next() {
                guard await push(chunk) else { return }
            }
            finish(failed: false)
        } catch {
            finish(failed: true)
        }
    }

    private func push(_ chunk: ByteBuffer) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            condition.lock()
            if closedByReader {
                condition.unlock()
                continuation.resume()
                return
            }
            chunks.append(chunk)
            condition.signal()
            if chunks.count < capacity {
                condition.unlock()
                continuation.resume()
            } else {
                spaceWaiter = continuation
                condition.unlock()
            }
        }
        return isOpen
    }

    private var isOpen: Bool {
        condition.lock()
        defer { condition.unlock() }
        return !closedByReader
    }

    private func finish(failed: Bool) {
        condition.lock()
        ended = true
        self.failed = failed
        condition.signal()
        condition.unlock()
    }

    /// From the curl thread: copies body bytes into `buffer`; 0 at the end, nil when the client's
    /// body broke off (the upload must be aborted, not cut short silently).
    func read(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        condition.lock()
        while chunks.isEmpty && !ended { condition.wait() }
        guard !chunks.isEmpty else {
            condition.unlock()
            return failed ? nil : 0
        }
        let count = min(buffer.count, chunks[0].readableBytes)
        chunks[0].withUnsafeReadableBytes { source in buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source.prefix(count))) }
        chunks[0].moveReaderIndex(forwardBy: count)
        if chunks[0].readableBytes == 0 { chunks.removeFirst() }
        let waiter = chunks.count < capacity ? spaceWaiter : nil
        if waiter != nil { spaceWaiter = nil }
        condition.unlock()
        waiter?.resume()
        return count
    }

    /// The transfer is over: a waiting reader task is let go.
    func close() {
        condition.lock()
        closedByReader = true
        let waiter = spaceWaiter
        spaceWaiter = nil
        chunks = []
        condition.unlock()
        waiter?.resume()
    }
}
