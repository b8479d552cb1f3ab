// Sealer: libsodium XChaCha20-Poly1305 with the session id as associated data, so a sealed
// value copied into another session's record does not open.
import CSodium

public enum SealingError: Error, Equatable {
    /// The key id names no key in the ring (rotated out, or a foreign record).
    case unknownKey
    /// Authentication failed: wrong key, wrong associated data, or tampered bytes.
    case openFailed
}

public struct Sealer: Sendable {
    public let ring: LiveKeyRing

    public var keys: KeyRing { ring.current }

    public init(ring: LiveKeyRing) { self.ring = ring }

    public init(keys: KeyRing) { self.init(ring: LiveKeyRing(keys)) }

    public func seal(_ plaintext: [UInt8], associatedData: String) -> SealedBox {
        _ = Sodium.initialized
        let key = keys.activeSealingKey
        let nonce = Sodium.randomBytes(Int(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES))
        let ad = Array(associatedData.utf8)
        var ciphertext = [UInt8](repeating: 0, count: plaintext.count + Int(crypto_aead_xchacha20poly1305_ietf_ABYTES))
        var length: UInt64 = 0
        _ = crypto_aead_xchacha20poly1305_ietf_encrypt(
            &ciphertext, &length, plaintext, UInt64(plaintext.count), ad, UInt64(ad.count), nil, nonce,
            key.material.value)
        return SealedBox(keyID: key.id, nonce: nonce, ciphertext: Array(ciphertext.prefix(Int(length))))
    }

    public func open(_ box: SealedBox, associatedData: String) throws(SealingError) -> [UInt8] {
        _ = Sodium.initialized
        guard let key = keys.sealingKey(id: box.keyID) else { throw .unknownKey }
        guard box.nonce.count == Int(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES),
            box.ciphertext.count >= Int(crypto_aead_xchacha20poly1305_ietf_ABYTES)
        else { throw .openFailed }
        let ad = Array(associatedData.utf8)
        var plaintext = [UInt8](repeating: 0, count: box.ciphertext.count)
        var length: UInt64 = 0
        let rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
            &plaintext, &length, nil, box.ciphertext, UInt64(box.ciphertext.count), ad, UInt64(ad.count),
            box.nonce, key.material.value)
        guard rc == 0 else { throw .openFailed }
        return Array(plaintext.prefix(Int(length)))
    }
}
