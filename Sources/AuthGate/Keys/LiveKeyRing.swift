// LiveKeyRing: the key ring a running server signs, verifies, seals and opens with. It is
// swapped whole when the key ring file changes, so `authgate keys rotate` needs no restart.
import NIOConcurrencyHelpers

public final class LiveKeyRing: Sendable {
    private let box: NIOLockedValueBox<KeyRing>

    public init(_ ring: KeyRing) { box = NIOLockedValueBox(ring) }

    public var current: KeyRing { box.withLockedValue { $0 } }

    func replace(_ ring: KeyRing) { box.withLockedValue { $0 = ring } }
}
