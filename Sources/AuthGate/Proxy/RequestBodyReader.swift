// RequestBodyReader: one iterator over a request body, handed from the task that read its
// first chunks to the task that streams the rest (a body can be iterated only once).
import Hummingbird
import NIOCore

/// `@unchecked Sendable`: the iterator is used by one task at a time, the reading handler and
/// then, strictly after it, the upload task it starts.
final class RequestBodyReader: @unchecked Sendable {
    private var iterator: RequestBody.AsyncIterator

    init(_ body: RequestBody) { iterator = body.makeAsyncIterator() }

    func next() async throws -> ByteBuffer? { try await iterator.next() }
}
