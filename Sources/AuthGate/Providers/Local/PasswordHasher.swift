// PasswordHasher: argon2id through libsodium's crypto_pwhash_str, on a small pool of its own so
// a burst of logins cannot occupy the threads the stores need.
import CSodium

public final class PasswordHasher: Sendable {
    let pool: BlockingPool
    let opsLimit: UInt64
    let memLimit: Int

    /// libsodium's "interactive" limits by default (argon2id, 2 passes, 64 MiB). Past `threads`
    /// running and `queueLimit` waiting, a hash or check is refused at once (503), not queued:
    /// each one holds 64 MiB and a core for a while.
    public init(threads: Int = 2, queueLimit: Int = 8) {
        _ = Sodium.initialized
        pool = BlockingPool(threads: threads, queueLimit: queueLimit)
        opsLimit = UInt64(crypto_pwhash_OPSLIMIT_INTERACTIVE)
        memLimit = Int(crypto_pwhash_MEMLIMIT_INTERACTIVE)
    }

    public func hash(_ password: Secret<String>) async throws -> String {
        let (ops, mem) = (opsLimit, memLimit)
        return try await pool.run {
            var out = [CChar](repeating: 0, count: Int(crypto_pwhash_STRBYTES))
            let length = UInt64(password.value.utf8.count)
            let rc = password.value.withCString { crypto_pwhash_str(&out, $0, length, ops, mem) }
            guard rc == 0 else { throw StoreError.failed("argon2id hashing failed (out of memory?)") }
            return String(decoding: out.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    public func verify(_ password: Secret<String>, hash: Secret<String>) async throws -> Bool {
        try await pool.run {
            let length = UInt64(password.value.utf8.count)
            return password.value.withCString { crypto_pwhash_str_verify(hash.value, $0, length) == 0 }
        }
    }

    public func shutdown() async { await pool.shutdown() }
}
