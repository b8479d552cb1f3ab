// DownloadPattern: the deterministic bytes the test upstreams stream, and their SHA-256, computed
// block by block so neither side ever holds a whole large body.
import Hummingbird
import NIOCore

/// Byte `i` of a download: in 64 KiB block `k = i / 65536` at offset `j = i % 65536`,
/// the first 8 bytes of a block are `k` as a little-endian UInt64 (so a dropped, repeated or
/// reordered block changes the hash), every other byte is `UInt8(truncatingIfNeeded: (j &* 2654435761) >> 13)`.
public enum DownloadPattern {
    public static let blockSize = 65536

    /// Offsets 8..<65536 of every block; the stamp overwrites the first 8.
    private static let base: [UInt8] = (0..<blockSize).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13) }

    /// The pattern's bytes at `range` (for checking a prefix or a slice; keep it small).
    public static func bytes(_ range: Range<Int>) -> [UInt8] {
        range.map { index in
            let offset = index % blockSize
            if offset < 8 { return UInt8(truncatingIfNeeded: UInt64(index / blockSize) >> (8 * UInt64(offset))) }
            return base[offset]
        }
    }

    /// SHA-256 (lowercase hex) of the first `count` bytes, hashed block by block.
    public static func sha256Hex(count: Int) -> String {
        var hasher = StreamingSHA256()
        var block = base
        var offset = 0
        while offset < count {
            let length = min(blockSize, count - offset)
            stamp(&block, index: offset / blockSize)
            block.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[..<length])) }
            offset += length
        }
        return hasher.finalHex()
    }

    /// Block `index`, cut to `length` bytes, in a buffer of its own (the writer keeps it until sent).
    static func block(_ index: Int, length: Int) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: length)
        base.withUnsafeBytes { _ = buffer.writeBytes(UnsafeRawBufferPointer(rebasing: $0[..<length])) }
        let stamp = withUnsafeBytes(of: UInt64(index).littleEndian) { Array($0) }
        buffer.setBytes(stamp.prefix(min(8, length)), at: 0)
        return buffer
    }

    /// A response body of `count` pattern bytes with `Content-Length`, written one block at a time;
    /// each write waits for the channel (backpressure), so memory stays at a few blocks.
    /// `failAfter` makes the writer throw once that many bytes are written (a broken upstream).
    static func responseBody(count: Int, failAfter: Int? = nil, contentLength: Bool = true) -> ResponseBody {
        ResponseBody(contentLength: contentLength ? count : nil) { writer in
            var offset = 0
            while offset < count {
                if let failAfter, offset >= failAfter { throw DownloadPatternError.brokenOnPurpose(written: offset) }
                let length = min(blockSize, count - offset)
                try await writer.write(block(offset / blockSize, length: length))
                offset += length
            }
            try await writer.finish(nil)
        }
    }

    private static func stamp(_ block: inout [UInt8], index: Int) {
        var value = UInt64(index).littleEndian
        withUnsafeBytes(of: &value) { stamp in
            for offset in 0..<8 { block[offset] = stamp[offset] }
        }
    }
}

enum DownloadPatternError: Error {
    case brokenOnPurpose(written: Int)
}
