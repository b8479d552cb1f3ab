// LocalUsers: the rules for the gateway's own users, written once for the CLI and tests: what a
// login may be, how long a password must be (ASVS 2.1.1: at least 12 characters), and what
// adding a user or changing a password does.
import Foundation

public struct LocalUsers: Sendable {
    public static let minimumPasswordLength = 12
    public static let maximumPasswordBytes = 1024
    public static let maximumLoginBytes = 256

    let store: any SessionStore
    let hasher: PasswordHasher

    public init(store: any SessionStore, hasher: PasswordHasher) {
        self.store = store
        self.hasher = hasher
    }

    /// A login names one user: printable, no control characters (a NUL would cut it short in C,
    /// a newline would forge a log line), no blanks at either end, not too long.
    public static func check(login: String) throws(SessionError) {
        guard !login.isEmpty, login.utf8.count <= maximumLoginBytes else { throw .invalidRequest("a login is 1 to 256 bytes") }
        guard !login.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .invalidRequest("a login has no control characters")
        }
        guard login.trimmingCharacters(in: .whitespaces) == login else { throw .invalidRequest("a login has no blanks at either end") }
    }

    public static func check(password: Secret<String>) throws(SessionError) {
        guard password.value.count >= minimumPasswordLength else {
            throw .invalidRequest("a password has at least \(minimumPasswordLength) characters")
        }
        guard password.value.utf8.count <= maximumPasswordBytes else { throw .invalidRequest("a password has at most 1024 bytes") }
    }

    public func add(login: String, email: String, name: String, password: Secret<String>) async throws -> UserRecord {
        try Self.check(login: login)
        try Self.check(password: password)
        let user = UserRecord(
            id: Identifier.random(), login: login, email: email, name: name.isEmpty ? login : name,
            passwordHash: try await hasher.hash(password), createdAt: Date())
        try await store.insertUser(user)
        return user
    }

    /// Replaces the password; false when there is no such user. The caller decides whether
    /// sessions opened with the old one end too (the CLI ends them: a reset usually follows a leak).
    public func setPassword(login: String, password: Secret<String>) async throws -> Bool {
        try Self.check(password: password)
        return try await store.updatePassword(login: login, passwordHash: try await hasher.hash(password))
    }
}
