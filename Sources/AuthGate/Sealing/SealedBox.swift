// SealedBox: a secret sealed at rest: which key, which nonce, and the ciphertext (with its tag).

public struct SealedBox: Sendable, Equatable {
    public var keyID: String
    public var nonce: [UInt8]
    public var ciphertext: [UInt8]

    public init(keyID: String, nonce: [UInt8], ciphertext: [UInt8]) {
        self.keyID = keyID
        self.nonce = nonce
        self.ciphertext = ciphertext
    }
}
