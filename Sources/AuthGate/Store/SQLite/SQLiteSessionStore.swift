// SQLiteSessionStore: the embedded default store; the same data as MongoDB, in one file.
public import Foundation

public final class SQLiteSessionStore: SessionStore {
    /// One writer and a few readers, each with its own thread.
    let connections: SQLiteConnectionPool
    let purgeInterval: TimeInterval
    private let lastPurge = NIOLockedDate()

    public convenience init(path: String, timeout: TimeInterval) throws {
        try self.init(path: path, timeout: timeout, purgeInterval: 60)
    }

    init(path: String, timeout: TimeInterval, readers: Int = SQLiteConnectionPool.defaultReaderCount, purgeInterval: TimeInterval) throws {
        do {
            connections = try SQLiteConnectionPool(
                path: path, readers: readers, busyTimeoutMilliseconds: Int32(min(timeout, 60) * 1000))
        } catch {
            throw StoreError.unavailable("cannot open \(path): \(error)")
        }
        self.purgeInterval = purgeInterval
    }

    public func close() async {
        await connections.close()
    }

    /// Reads on any idle reader connection.
    private func reading<T: Sendable>(_ body: @Sendable @escaping (SQLiteConnection.Access) throws -> T) async throws -> T {
        try await mappingErrors { try await connections.read(body) }
    }

    /// Writes in one transaction on the writer connection.
    @discardableResult
    private func writing<T: Sendable>(_ body: @Sendable @escaping (SQLiteConnection.Access) throws -> T) async throws -> T {
        try await mappingErrors { try await connections.write(body) }
    }

    /// Turns SQLite errors into StoreError; work refused after close() is `unavailable`.
    private func mappingErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as SQLiteError {
            if error.isConstraint { throw StoreError.duplicate }
            if error.isBusy { throw StoreError.unavailable(error.description) }
            if error.isClosed { throw StoreError.unavailable(error.message) }
            throw StoreError.failed(error.description)
        }
    }

    public func migrate() async throws {
        try await mappingErrors {
            try await connections.withWriter { c in
                try c.execute(
                    """
                    CREATE TABLE IF NOT EXISTS sessions (
                        id TEXT PRIMARY KEY, user_id TEXT NOT NULL, user_login TEXT NOT NULL, user_json TEXT NOT NULL,
                        provider TEXT NOT NULL, upstream_key_id TEXT, upstream_nonce BLOB, upstream_ciphertext BLOB,
                        refresh_json TEXT NOT NULL, created_at REAL NOT NULL, last_seen_at REAL NOT NULL,
                        idle_expires_at REAL NOT NULL, expires_at REAL NOT NULL, revoked_at REAL,
                        client_ip TEXT NOT NULL, user_agent TEXT NOT NULL, version INTEGER NOT NULL);
                    CREATE INDEX IF NOT EXISTS sessions_user_id ON sessions(user_id);
                    CREATE INDEX IF NOT EXISTS sessions_user_login ON sessions(user_login);
                    CREATE INDEX IF NOT EXISTS sessions_expires_at ON sessions(expires_at);
                    CREATE INDEX IF NOT EXISTS sessions_revoked_at ON sessions(revoked_at);
                    CREATE TABLE IF NOT EXISTS refresh_hashes (
                        hash TEXT PRIMARY KEY, session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE);
                    CREATE INDEX IF NOT EXISTS refresh_hashes_session ON refresh_hashes(session_id);
                    CREATE TABLE IF NOT EXISTS revoked_tokens (
                        jti TEXT PRIMARY KEY, sid TEXT NOT NULL, revoked_at REAL NOT NULL, expires_at REAL NOT NULL);
                    CREATE INDEX IF NOT EXISTS revoked_tokens_revoked_at ON revoked_tokens(revoked_at);
                    CREATE TABLE IF NOT EXISTS revocation_log (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, id TEXT NOT NULL, expires_at REAL NOT NULL);
                    CREATE TABLE IF NOT EXISTS users (
                        id TEXT PRIMARY KEY, login TEXT NOT NULL UNIQUE, email TEXT NOT NULL, name TEXT NOT NULL,
                        password_hash TEXT NOT NULL, created_at REAL NOT NULL);
                    CREATE TABLE IF NOT EXISTS rate_limits (
                        key TEXT PRIMARY KEY, count INTEGER NOT NULL, banned_until REAL, expires_at REAL NOT NULL);
                    """)
            }
        }
    }

    public func ping() async throws {
        _ = try await reading { try $0.query("SELECT 1") }
    }

    // MARK: Sessions

    static let sessionColumns = """
        id, user_json, provider, upstream_key_id, upstream_nonce, upstream_ciphertext, refresh_json, created_at,
        last_seen_at, idle_expires_at, expires_at, revoked_at, client_ip, user_agent, version
        """

    public func insertSession(_ session: SessionRecord) async throws {
        let row = try Self.row(session)
        let purge = lastPurge.exchangeIfOlder(than: purgeInterval)
        try await writing { c in
            if purge {
                // SQLite has no TTL index: sweep expired rows now and then.
                let now = Date().timeIntervalSince1970
                try c.run("DELETE FROM sessions WHERE expires_at <= ? OR idle_expires_at <= ?", [.real(now), .real(now)])
                try c.run("DELETE FROM revoked_tokens WHERE expires_at <= ?", [.real(now)])
                try c.run("DELETE FROM revocation_log WHERE expires_at <= ?", [.real(now)])
                try c.run("DELETE FROM rate_limits WHERE expires_at <= ?", [.real(now)])
            }
            try c.run(
                """
                INSERT INTO sessions (id, user_id, user_login, user_json, provider, upstream_key_id, upstream_nonce,
                    upstream_ciphertext, refresh_json, created_at, last_seen_at, idle_expires_at, expires_at, revoked_at,
                    client_ip, user_agent, version) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
                """, row)
            try Self.writeRefreshHashes(session, c)
        }
    }

    public func session(id: String, now: Date) async throws -> SessionRecord? {
        try await reading { c in
            try c.query("SELECT \(Self.sessionColumns) FROM sessions WHERE id = ?", [.text(id)])
                .first.map(Self.session(from:))
        }.flatMap { $0.isExpired(at: now) ? nil : $0 }
    }

    public func session(refreshHash: String, now: Date) async throws -> SessionRecord? {
        try await reading { c in
            try c.query(
                "SELECT \(Self.sessionColumns) FROM sessions WHERE id = (SELECT session_id FROM refresh_hashes WHERE hash = ?)",
                [.text(refreshHash)]
            ).first.map(Self.session(from:))
        }.flatMap { $0.isExpired(at: now) ? nil : $0 }
    }

    public func updateSession(_ session: SessionRecord, expectedVersion: Int64) async throws -> Bool {
        let row = try Self.row(session)
        return try await writing { c in
            let changed = try c.run(
                """
                UPDATE sessions SET id = ?, user_id = ?, user_login = ?, user_json = ?, provider = ?, upstream_key_id = ?,
                    upstream_nonce = ?, upstream_ciphertext = ?, refresh_json = ?, created_at = ?, last_seen_at = ?,
                    idle_expires_at = ?, expires_at = ?, revoked_at = ?, client_ip = ?, user_agent = ?, version = ?
                WHERE id = ? AND version = ?
                """, row + [.text(session.id), .integer(expectedVersion)])
            guard changed == 1 else { return false }
            try Self.writeRefreshHashes(session, c)
            return true
        }
    }

    @discardableResult
    public func updateUpstream(sessionID: String, upstream: SealedBox, replacing: SealedBox?) async throws -> Bool {
        try await writing { c in
            let values: [SQLiteValue] = [.text(upstream.keyID), .blob(upstream.nonce), .blob(upstream.ciphertext), .text(sessionID)]
            let sql = "UPDATE sessions SET upstream_key_id = ?, upstream_nonce = ?, upstream_ciphertext = ?, version = version + 1 WHERE id = ? AND revoked_at IS NULL"
            guard let replacing else { return try c.run(sql, values) == 1 }
            return try c.run(sql + " AND upstream_nonce = ?", values + [.blob(replacing.nonce)]) == 1
        }
    }

    public func touchSession(id: String, lastSeenAt: Date) async throws {
        try await writing { c in
            try c.run("UPDATE sessions SET last_seen_at = ? WHERE id = ? AND revoked_at IS NULL", [SQLiteValue(lastSeenAt), .text(id)])
        }
    }

    public func revokeSession(id: String, at: Date) async throws -> Bool {
        try await writing { c in
            let revoked = try c.run(
                "UPDATE sessions SET revoked_at = ?, version = version + 1 WHERE id = ? AND revoked_at IS NULL",
                [SQLiteValue(at), .text(id)]) == 1
            if revoked { try Self.logRevocation(kind: "session", id: id, c) }
            return revoked
        }
    }

    /// Every revocation also goes to the log whose sequence is the polls' cursor: the one writer
    /// commits in sequence order, so a poll never misses one, whatever the writer's clock said.
    private static func logRevocation(kind: String, id: String, _ c: SQLiteConnection.Access) throws {
        try c.run(
            "INSERT INTO revocation_log (kind, id, expires_at) SELECT ?, ?, expires_at FROM \(kind == "session" ? "sessions WHERE id = ?" : "revoked_tokens WHERE jti = ?")",
            [.text(kind), .text(id), .text(id)])
    }

    public func revokeSessions(_ filter: SessionFilter, at: Date) async throws -> [String] {
        let (clause, bindings) = Self.whereClause(filter)
        return try await writing { c in
            let ids = try c.query("SELECT id FROM sessions WHERE revoked_at IS NULL AND \(clause)", bindings)
                .compactMap { $0[0].string }
            for id in ids {
                try c.run("UPDATE sessions SET revoked_at = ?, version = version + 1 WHERE id = ?", [SQLiteValue(at), .text(id)])
                try Self.logRevocation(kind: "session", id: id, c)
            }
            return ids
        }
    }

    public func sessions(_ filter: SessionFilter, now: Date) async throws -> [SessionRecord] {
        let (clause, bindings) = Self.whereClause(filter)
        let seconds = SQLiteValue.real(now.timeIntervalSince1970)
        return try await reading { c in
            try c.query(
                """
                SELECT \(Self.sessionColumns) FROM sessions WHERE revoked_at IS NULL AND expires_at > ?
                    AND idle_expires_at > ? AND \(clause) ORDER BY created_at DESC
                """, [seconds, seconds] + bindings
            ).map(Self.session(from:))
        }
    }

    // MARK: Revocation

    public func revokeToken(_ token: RevokedToken) async throws {
        try await writing { c in
            try c.run(
                "INSERT OR REPLACE INTO revoked_tokens (jti, sid, revoked_at, expires_at) VALUES (?,?,?,?)",
                [.text(token.jti), .text(token.sessionID), SQLiteValue(token.revokedAt), SQLiteValue(token.expiresAt)])
            try Self.logRevocation(kind: "token", id: token.jti, c)
        }
    }

    public func revocations(after cursor: RevocationCursor?, revokedSince: Date, now: Date) async throws -> (batch: RevocationBatch, next: RevocationCursor?) {
        let nowValue = SQLiteValue(now)
        let sinceValue = SQLiteValue(revokedSince)
        var after: Int64?
        if case .sequence(let seq) = cursor { after = seq }
        let start = after
        return try await reading { c in
            // The log's sequence at the time of this read: everything up to it is in the answer.
            let latest = try c.query("SELECT COALESCE(MAX(seq), 0) FROM revocation_log").first?[0].int ?? 0
            guard let start else {
                let sessions = try c.query(
                    "SELECT id, expires_at FROM sessions WHERE revoked_at >= ? AND expires_at > ?", [sinceValue, nowValue]
                ).compactMap { row in row[0].string.flatMap { id in row[1].date.map { (id: id, expiresAt: $0) } } }
                let tokens = try c.query("SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > ?", [nowValue])
                    .compactMap { row in row[0].string.flatMap { jti in row[1].date.map { (jti: jti, expiresAt: $0) } } }
                return (RevocationBatch(sessions: sessions, tokens: tokens), .sequence(latest))
            }
            var batch = RevocationBatch()
            for row in try c.query(
                "SELECT kind, id, expires_at FROM revocation_log WHERE seq > ? AND seq <= ? AND expires_at > ?",
                [.integer(start), .integer(latest), nowValue])
            {
                guard let kind = row[0].string, let id = row[1].string, let expires = row[2].date else { continue }
                if kind == "session" { batch.sessions.append((id: id, expiresAt: expires)) } else { batch.tokens.append((jti: id, expiresAt: expires)) }
            }
            return (batch, .sequence(max(latest, start)))
        }
    }

    // MARK: Users

    public func insertUser(_ user: UserRecord) async throws {
        try await writing { c in
            try c.run(
                "INSERT INTO users (id, login, email, name, password_hash, created_at) VALUES (?,?,?,?,?,?)",
                [.text(user.id), .text(user.login), .text(user.email), .text(user.name), .text(user.passwordHash.value), SQLiteValue(user.createdAt)])
        }
    }

    public func user(login: String) async throws -> UserRecord? {
        try await reading { c in
            try c.query("SELECT id, login, email, name, password_hash, created_at FROM users WHERE login = ?", [.text(login)])
                .first.map(Self.user(from:))
        }
    }

    public func deleteUser(login: String) async throws -> Bool {
        try await writing { c in try c.run("DELETE FROM users WHERE login = ?", [.text(login)]) == 1 }
    }

    public func updatePassword(login: String, passwordHash: String) async throws -> Bool {
        try await writing { c in try c.run("UPDATE users SET password_hash = ? WHERE login = ?", [.text(passwordHash), .text(login)]) == 1 }
    }

    public func users() async throws -> [UserRecord] {
        try await reading { c in
            try c.query("SELECT id, login, email, name, password_hash, created_at FROM users ORDER BY login").map(Self.user(from:))
        }
    }

    // MARK: Login regulation

    public func countLoginAttempts(keys: [String], window: TimeInterval, now: Date) async throws -> [LoginAttemptCount] {
        try await writing { c in
            let t = now.timeIntervalSince1970
            // One transaction on the one writer: each window reset and increment is atomic.
            return try keys.map { key in
                try c.run("DELETE FROM rate_limits WHERE key = ? AND expires_at <= ?", [.text(key), .real(t)])
                try c.run(
                    """
                    INSERT INTO rate_limits (key, count, banned_until, expires_at) VALUES (?, 1, NULL, ?)
                    ON CONFLICT(key) DO UPDATE SET count = count + 1
                    """, [.text(key), .real(t + window)])
                let row = try c.query("SELECT count, banned_until FROM rate_limits WHERE key = ?", [.text(key)]).first
                return LoginAttemptCount(count: Int(row?[0].int ?? 1), bannedUntil: row?[1].date.flatMap { $0 > now ? $0 : nil })
            }
        }
    }

    public func takeBackLoginAttempts(undo: [String], reset: [String]) async throws {
        guard !undo.isEmpty || !reset.isEmpty else { return }
        try await writing { c in
            for key in undo { try c.run("UPDATE rate_limits SET count = count - 1 WHERE key = ? AND count > 0", [.text(key)]) }
            for key in reset { try c.run("DELETE FROM rate_limits WHERE key = ? AND banned_until IS NULL", [.text(key)]) }
        }
    }

    public func banLogin(key: String, until: Date) async throws {
        try await writing { c in
            try c.run(
                """
                INSERT INTO rate_limits (key, count, banned_until, expires_at) VALUES (?, 0, ?, ?)
                ON CONFLICT(key) DO UPDATE SET banned_until = excluded.banned_until, expires_at = excluded.expires_at
                """, [.text(key), SQLiteValue(until), SQLiteValue(until)])
        }
    }

    public func loginBans(now: Date) async throws -> [LoginBan] {
        try await reading { c in
            try c.query("SELECT key, banned_until FROM rate_limits WHERE banned_until > ? ORDER BY key", [SQLiteValue(now)]).compactMap { row in
                row[0].string.flatMap { key in row[1].date.map { LoginBan(key: key, until: $0) } }
            }
        }
    }

    public func clearLoginBans(key: String?, now: Date) async throws -> Int {
        try await writing { c in
            if let key { return try c.run("DELETE FROM rate_limits WHERE key = ? AND banned_until > ?", [.text(key), SQLiteValue(now)]) }
            return try c.run("DELETE FROM rate_limits WHERE banned_until > ?", [SQLiteValue(now)])
        }
    }

    // MARK: Rows

    private static func whereClause(_ filter: SessionFilter) -> (String, [SQLiteValue]) {
        switch filter {
        case .all: ("1 = 1", [])
        case .userID(let id): ("user_id = ?", [.text(id)])
        case .login(let login): ("user_login = ?", [.text(login)])
        }
    }

    private static func writeRefreshHashes(_ session: SessionRecord, _ c: SQLiteConnection.Access) throws {
        try c.run("DELETE FROM refresh_hashes WHERE session_id = ?", [.text(session.id)])
        for entry in session.refreshTokens {
            try c.run("INSERT OR REPLACE INTO refresh_hashes (hash, session_id) VALUES (?, ?)", [.text(entry.hash), .text(session.id)])
        }
    }

    private static func row(_ s: SessionRecord) throws -> [SQLiteValue] {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        let userJSON = String(decoding: try encoder.encode(s.user), as: UTF8.self)
        let refreshJSON = String(decoding: try encoder.encode(s.refreshTokens), as: UTF8.self)
        return [
            .text(s.id), .text(s.user.id), .text(s.user.login), .text(userJSON), .text(s.provider),
            SQLiteValue(s.upstream?.keyID), s.upstream.map { .blob($0.nonce) } ?? .null,
            s.upstream.map { .blob($0.ciphertext) } ?? .null, .text(refreshJSON), SQLiteValue(s.createdAt),
            SQLiteValue(s.lastSeenAt), SQLiteValue(s.idleExpiresAt), SQLiteValue(s.expiresAt), SQLiteValue(s.revokedAt),
            .text(s.clientIP), .text(s.userAgent), .integer(s.version),
        ]
    }

    private static func session(from row: [SQLiteValue]) throws -> SessionRecord {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        guard row.count == 15, let id = row[0].string, let userJSON = row[1].string, let provider = row[2].string,
            let refreshJSON = row[6].string, let createdAt = row[7].date, let lastSeenAt = row[8].date,
            let idleExpiresAt = row[9].date, let expiresAt = row[10].date, let version = row[14].int
        else { throw StoreError.failed("corrupt session row") }
        var upstream: SealedBox?
        if let keyID = row[3].string, let nonce = row[4].bytes, let ciphertext = row[5].bytes {
            upstream = SealedBox(keyID: keyID, nonce: nonce, ciphertext: ciphertext)
        }
        return SessionRecord(
            id: id, user: try decoder.decode(UserProfile.self, from: Data(userJSON.utf8)), provider: provider,
            upstream: upstream, refreshTokens: try decoder.decode([RefreshTokenEntry].self, from: Data(refreshJSON.utf8)),
            createdAt: createdAt, lastSeenAt: lastSeenAt, idleExpiresAt: idleExpiresAt, expiresAt: expiresAt,
            revokedAt: row[11].date, clientIP: row[12].string ?? "", userAgent: row[13].string ?? "", version: version)
    }

    private static func user(from row: [SQLiteValue]) throws -> UserRecord {
        guard row.count == 6, let id = row[0].string, let login = row[1].string, let hash = row[4].string,
            let createdAt = row[5].date
        else { throw StoreError.failed("corrupt user row") }
        return UserRecord(id: id, login: login, email: row[2].string ?? "", name: row[3].string ?? "", passwordHash: hash, createdAt: createdAt)
    }
}
