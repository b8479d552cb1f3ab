// MongoSessionStore: the production store, through libmongoc. Collections and indexes are the
// contract's; expiry is also checked on every read because TTL deletion runs once a minute.
public import Foundation

public final class MongoSessionStore: SessionStore {
    let pool: MongoClientPool

    public init(uri: String, timeout: TimeInterval) throws {
        pool = try MongoClientPool(uri: uri, timeout: timeout)
    }

    public func close() async { await pool.close() }

    public func migrate() async throws {
        try await pool.withClient { client in
            func index(_ keys: BSONDocument, _ name: String, unique: Bool = false, ttl: Bool = false) -> BSON {
                var spec: BSONDocument = ["key": .document(keys), "name": .string(name)]
                if unique { spec["unique"] = .bool(true) }
                if ttl { spec["expireAfterSeconds"] = .int32(0) }
                return .document(spec)
            }
            let plan: [(String, [BSON])] = [
                ("sessions", [
                    index(["expires_at": .int32(1)], "expires_at_ttl", ttl: true),
                    index(["user.id": .int32(1)], "user_id"),
                    index(["user.login": .int32(1)], "user_login"),
                    index(["refresh_tokens.hash": .int32(1)], "refresh_hash"),
                    index(["revoked_at": .int32(1)], "revoked_at"),
                    index(["revoked_stored_at": .int32(1)], "revoked_stored_at"),
                ]),
                ("revoked_tokens", [
                    index(["expires_at": .int32(1)], "expires_at_ttl", ttl: true),
                    index(["revoked_stored_at": .int32(1)], "revoked_stored_at"),
                ]),
                ("users", [index(["login": .int32(1)], "login_unique", unique: true)]),
                ("rate_limits", [index(["expires_at": .int32(1)], "expires_at_ttl", ttl: true)]),
            ]
            for (collection, indexes) in plan {
                try client.command(["createIndexes": .string(collection), "indexes": .array(indexes)])
            }
        }
    }

    public func ping() async throws {
        try await pool.withClient(control: true) { try $0.command(["ping": .int32(1)]) }
    }

    // MARK: Sessions

    public func insertSession(_ session: SessionRecord) async throws {
        let document = Self.document(session)
        try await pool.withClient { try $0.insertOne("sessions", document) }
    }

    public func session(id: String, now: Date) async throws -> SessionRecord? {
        try await findSession(["_id": .string(id)], now: now)
    }

    public func session(refreshHash: String, now: Date) async throws -> SessionRecord? {
        try await findSession(["refresh_tokens.hash": .string(refreshHash)], now: now)
    }

    private func findSession(_ filter: BSONDocument, now: Date) async throws -> SessionRecord? {
        var filter = filter
        filter["expires_at"] = .document(["$gt": .date(now)])
        filter["idle_expires_at"] = .document(["$gt": .date(now)])
        let found = filter
        return try await pool.withClient { client in
            try client.find("sessions", found, options: ["limit": .int64(1)]).first.map(Self.session(from:))
        }
    }

    public func updateSession(_ session: SessionRecord, expectedVersion: Int64) async throws -> Bool {
        var replacement = Self.document(session)
        replacement["_id"] = nil
        let update: BSONDocument = ["$set": .document(replacement)]
        return try await pool.withClient { client in
            try client.update("sessions", ["_id": .string(session.id), "version": .int64(expectedVersion)], update).matched == 1
        }
    }

    @discardableResult
    public func updateUpstream(sessionID: String, upstream: SealedBox, replacing: SealedBox?) async throws -> Bool {
        let update: BSONDocument = ["$set": .document(["upstream": Self.upstreamDocument(upstream)]), "$inc": .document(["version": .int64(1)])]
        var filter: BSONDocument = ["_id": .string(sessionID), "revoked_at": .null]
        if let replacing { filter["upstream.nonce"] = .binary(replacing.nonce) }
        let selected = filter
        return try await pool.withClient { try $0.update("sessions", selected, update).matched == 1 }
    }

    public func touchSession(id: String, lastSeenAt: Date) async throws {
        try await pool.withClient { try $0.update("sessions", ["_id": .string(id), "revoked_at": .null], ["$set": .document(["last_seen_at": .date(lastSeenAt)])]) }
    }

    public func revokeSession(id: String, at: Date) async throws -> Bool {
        try await pool.withClient { client in
            try client.update(
                "sessions", ["_id": .string(id), "revoked_at": .null],
                ["$set": .document(["revoked_at": .date(at)]), "$inc": .document(["version": .int64(1)]), "$currentDate": Self.storedAt]
            ).modified == 1
        }
    }

    public func revokeSessions(_ filter: SessionFilter, at: Date) async throws -> [String] {
        var query = Self.filter(filter)
        query["revoked_at"] = .null
        let selection = query
        return try await pool.withClient { client in
            let ids = try client.find("sessions", selection, options: ["projection": .document(["_id": .int32(1)])])
                .compactMap { $0["_id"]?.string }
            guard !ids.isEmpty else { return [] }
            try client.update(
                "sessions", ["_id": .document(["$in": .array(ids.map(BSON.string))]), "revoked_at": .null],
                ["$set": .document(["revoked_at": .date(at)]), "$inc": .document(["version": .int64(1)]), "$currentDate": Self.storedAt],
                many: true)
            return ids
        }
    }

    public func sessions(_ filter: SessionFilter, now: Date) async throws -> [SessionRecord] {
        var query = Self.filter(filter)
        query["revoked_at"] = .null
        query["expires_at"] = .document(["$gt": .date(now)])
        query["idle_expires_at"] = .document(["$gt": .date(now)])
        let selection = query
        return try await pool.withClient { client in
            try client.find("sessions", selection, options: ["sort": .document(["created_at": .int32(-1)])])
                .map(Self.session(from:))
        }
    }

    // MARK: Revocation

    public func revokeToken(_ token: RevokedToken) async throws {
        try await pool.withClient { client in
            try client.update(
                "revoked_tokens", ["_id": .string(token.jti)],
                [
                    "$set": .document([
                        "sid": .string(token.sessionID), "revoked_at": .date(token.revokedAt), "expires_at": .date(token.expiresAt),
                    ]),
                    "$currentDate": Self.storedAt,
                ], upsert: true)
        }
    }

    /// `revoked_stored_at`: the server's clock when it wrote the revocation, the cursor polls follow.
    static let storedAt: BSON = .document(["revoked_stored_at": .bool(true)])
    /// Writes still becoming visible when a poll reads: read this far behind the last one seen.
    static let cursorOverlap: TimeInterval = 5

    public func revocations(after cursor: RevocationCursor?, revokedSince: Date, now: Date) async throws -> (batch: RevocationBatch, next: RevocationCursor?) {
        var previous: Date?
        if case .storeTime(let last) = cursor { previous = last }
        let since = previous.map { $0.addingTimeInterval(-Self.cursorOverlap) }
        let carried = previous
        let unexpired: BSON = .document(["$gt": .date(now)])
        let sessionQuery: BSONDocument = since.map { ["revoked_stored_at": .document(["$gte": .date($0)]), "expires_at": unexpired] }
            ?? ["revoked_at": .document(["$gte": .date(revokedSince)]), "expires_at": unexpired]
        let tokenQuery: BSONDocument = since.map { ["revoked_stored_at": .document(["$gte": .date($0)]), "expires_at": unexpired] }
            ?? ["expires_at": unexpired]
        let projection: BSONDocument = ["projection": .document(["_id": .int32(1), "expires_at": .int32(1), "revoked_stored_at": .int32(1)])]
        return try await pool.withClient(control: true) { client in
            var latest: Date?
            func entries(_ collection: String, _ query: BSONDocument) throws -> [(String, Date)] {
                try client.find(collection, query, options: projection).compactMap { doc in
                    if let stored = doc["revoked_stored_at"]?.date, stored > (latest ?? .distantPast) { latest = stored }
                    return doc["_id"]?.string.flatMap { id in doc["expires_at"]?.date.map { (id, $0) } }
                }
            }
            let batch = RevocationBatch(
                sessions: try entries("sessions", sessionQuery).map { (id: $0.0, expiresAt: $0.1) },
                tokens: try entries("revoked_tokens", tokenQuery).map { (jti: $0.0, expiresAt: $0.1) })
            // Nothing stored since: carry on from where this poll looked (a full load looked back
            // to `revokedSince`), never from nil, which would make every next poll a full load.
            return (batch, .storeTime(max(latest ?? .distantPast, carried ?? revokedSince)))
        }
    }

    // MARK: Users

    public func insertUser(_ user: UserRecord) async throws {
        let document: BSONDocument = [
            "_id": .string(user.id), "login": .string(user.login), "email": .string(user.email), "name": .string(user.name),
            "password_hash": .string(user.passwordHash.value), "created_at": .date(user.createdAt),
        ]
        try await pool.withClient { try $0.insertOne("users", document) }
    }

    public func user(login: String) async throws -> UserRecord? {
        try await pool.withClient { client in
            try client.find("users", ["login": .string(login)], options: ["limit": .int64(1)]).first.map(Self.user(from:))
        }
    }

    public func deleteUser(login: String) async throws -> Bool {
        try await pool.withClient { try $0.delete("users", ["login": .string(login)]) == 1 }
    }

    public func updatePassword(login: String, passwordHash: String) async throws -> Bool {
        try await pool.withClient { client in
            try client.update("users", ["login": .string(login)], ["$set": .document(["password_hash": .string(passwordHash)])]).matched == 1
        }
    }

    public func users() async throws -> [UserRecord] {
        try await pool.withClient { client in
            try client.find("users", [:], options: ["sort": .document(["login": .int32(1)])]).map(Self.user(from:))
        }
    }

    // MARK: Login regulation

    public func countLoginAttempts(keys: [String], window: TimeInterval, now: Date) async throws -> [LoginAttemptCount] {
        try await pool.withClient { client in try keys.map { try Self.countLoginAttempt(client, key: $0, window: window, now: now) } }
    }

    /// One atomic increment (shared by all instances), usually one round trip: only a counter
    /// inside its window matches, so an upsert that meets one past its window fails on `_id`;
    /// that one is removed and the attempt counted again. The same retry covers two first
    /// attempts racing on the upsert: the second one increments the winner's document.
    private static func countLoginAttempt(_ client: MongoClient, key: String, window: TimeInterval, now: Date) throws -> LoginAttemptCount {
        let live: BSONDocument = ["_id": .string(key), "expires_at": .document(["$gt": .date(now)])]
        let update: BSONDocument = [
            "$inc": .document(["count": .int64(1)]),
            "$setOnInsert": .document(["expires_at": .date(now.addingTimeInterval(window))]),
        ]
        var counter: BSONDocument?
        do {
            counter = try client.findAndModify("rate_limits", query: live, update: update, upsert: true)
        } catch StoreError.duplicate {
            try client.delete("rate_limits", ["_id": .string(key), "expires_at": .document(["$lte": .date(now)])])
            do {
                counter = try client.findAndModify("rate_limits", query: live, update: update, upsert: true)
            } catch StoreError.duplicate {
                counter = try client.findAndModify("rate_limits", query: live, update: update, upsert: true)
            }
        }
        let bannedUntil = counter?["banned_until"]?.date.flatMap { $0 > now ? $0 : nil }
        return LoginAttemptCount(count: Int(counter?["count"]?.int ?? 1), bannedUntil: bannedUntil)
    }

    public func takeBackLoginAttempts(undo: [String], reset: [String]) async throws {
        guard !undo.isEmpty || !reset.isEmpty else { return }
        try await pool.withClient { client in
            for key in undo {
                try client.update("rate_limits", ["_id": .string(key), "count": .document(["$gt": .int64(0)])], ["$inc": .document(["count": .int64(-1)])])
            }
            for key in reset { try client.delete("rate_limits", ["_id": .string(key), "banned_until": .document(["$exists": .bool(false)])]) }
        }
    }

    public func banLogin(key: String, until: Date) async throws {
        try await pool.withClient { client in
            try client.update(
                "rate_limits", ["_id": .string(key)],
                ["$set": .document(["banned_until": .date(until), "expires_at": .date(until)]), "$setOnInsert": .document(["count": .int64(0)])],
                upsert: true)
        }
    }

    public func loginBans(now: Date) async throws -> [LoginBan] {
        try await pool.withClient { client in
            try client.find("rate_limits", ["banned_until": .document(["$gt": .date(now)])], options: ["sort": .document(["_id": .int32(1)])])
                .compactMap { doc in doc["_id"]?.string.flatMap { key in doc["banned_until"]?.date.map { LoginBan(key: key, until: $0) } } }
        }
    }

    public func clearLoginBans(key: String?, now: Date) async throws -> Int {
        var filter: BSONDocument = ["banned_until": .document(["$gt": .date(now)])]
        if let key { filter["_id"] = .string(key) }
        let selected = filter
        return try await pool.withClient { Int(try $0.delete("rate_limits", selected, many: true)) }
    }

    // MARK: Documents

    private static func filter(_ filter: SessionFilter) -> BSONDocument {
        switch filter {
        case .all: [:]
        case .userID(let id): ["user.id": .string(id)]
        case .login(let login): ["user.login": .string(login)]
        }
    }

    static func document(_ s: SessionRecord) -> BSONDocument {
        let upstreamID: BSON =
            switch s.user.upstreamID {
            case .number(let n): .int64(n)
            case .string(let text): .string(text)
            }
        let user: BSONDocument = [
            "id": .string(s.user.id), "login": .string(s.user.login), "email": .string(s.user.email),
            "name": .string(s.user.name), "upstream_id": upstreamID,
        ]
        let upstream: BSON = s.upstream.map(upstreamDocument) ?? .null
        let refresh: [BSON] = s.refreshTokens.map {
            .document([
                "hash": .string($0.hash), "issued_at": .date($0.issuedAt), "retired_at": $0.retiredAt.map(BSON.date) ?? .null,
                "sibling_issued": .bool($0.siblingIssued),
            ])
        }
        return [
            "_id": .string(s.id), "user": .document(user), "provider": .string(s.provider), "upstream": upstream,
            "refresh_tokens": .array(refresh), "created_at": .date(s.createdAt), "last_seen_at": .date(s.lastSeenAt),
            "idle_expires_at": .date(s.idleExpiresAt), "expires_at": .date(s.expiresAt),
            "revoked_at": s.revokedAt.map(BSON.date) ?? .null, "client_ip": .string(s.clientIP),
            "user_agent": .string(s.userAgent), "version": .int64(s.version),
        ]
    }

    static func upstreamDocument(_ sealed: SealedBox) -> BSON {
        .document(["kid": .string(sealed.keyID), "nonce": .binary(sealed.nonce), "ciphertext": .binary(sealed.ciphertext)])
    }

    static func session(from d: BSONDocument) throws -> SessionRecord {
        guard let id = d["_id"]?.string, let user = d["user"]?.document, let userID = user["id"]?.string,
            let login = user["login"]?.string, let createdAt = d["created_at"]?.date, let lastSeenAt = d["last_seen_at"]?.date,
            let idleExpiresAt = d["idle_expires_at"]?.date, let expiresAt = d["expires_at"]?.date
        else { throw StoreError.failed("corrupt session document") }
        let upstreamID: UpstreamID = user["upstream_id"]?.string.map(UpstreamID.string) ?? .number(user["upstream_id"]?.int ?? 0)
        var upstream: SealedBox?
        if let sealed = d["upstream"]?.document, let kid = sealed["kid"]?.string, let nonce = sealed["nonce"]?.bytes,
            let ciphertext = sealed["ciphertext"]?.bytes
        {
            upstream = SealedBox(keyID: kid, nonce: nonce, ciphertext: ciphertext)
        }
        let refresh: [RefreshTokenEntry] = (d["refresh_tokens"]?.array ?? []).compactMap { value in
            guard let entry = value.document, let hash = entry["hash"]?.string, let issued = entry["issued_at"]?.date else { return nil }
            return RefreshTokenEntry(
                hash: hash, issuedAt: issued, retiredAt: entry["retired_at"]?.date, siblingIssued: entry["sibling_issued"] == .bool(true))
        }
        return SessionRecord(
            id: id,
            user: UserProfile(
                id: userID, login: login, email: user["email"]?.string ?? "", name: user["name"]?.string ?? "",
                upstreamID: upstreamID),
            provider: d["provider"]?.string ?? "", upstream: upstream, refreshTokens: refresh, createdAt: createdAt,
            lastSeenAt: lastSeenAt, idleExpiresAt: idleExpiresAt, expiresAt: expiresAt, revokedAt: d["revoked_at"]?.date,
            clientIP: d["client_ip"]?.string ?? "", userAgent: d["user_agent"]?.string ?? "", version: d["version"]?.int ?? 0)
    }

    static func user(from d: BSONDocument) throws -> UserRecord {
        guard let id = d["_id"]?.string, let login = d["login"]?.string, let hash = d["password_hash"]?.string else {
            throw StoreError.failed("corrupt user document")
        }
        return UserRecord(
            id: id, login: login, email: d["email"]?.string ?? "", name: d["name"]?.string ?? "", passwordHash: hash,
            createdAt: d["created_at"]?.date ?? Date(timeIntervalSince1970: 0))
    }
}
