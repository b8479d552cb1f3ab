// MongoClient: a client borrowed from the pool for one work item, with the few collection
// operations the store makes. Pointers are lent only inside `withBSON { }` / `withReply { }`.
import CMongoC
import Foundation

struct MongoClient {
    let client: OpaquePointer
    let databaseName: String

    // MARK: BSON at the C boundary

    static func withBSON<T>(_ document: BSONDocument, _ body: (OpaquePointer) throws -> T) throws -> T {
        let json = document.extendedJSON
        var error = bson_error_t()
        let bson = json.withCString { pointer in
            pointer.withMemoryRebound(to: UInt8.self, capacity: json.utf8.count) {
                bson_new_from_json($0, json.utf8.count, &error)
            }
        }
        guard let bson else { throw StoreError.failed("cannot encode document") }
        defer { bson_destroy(bson) }
        return try body(bson)
    }

    static func withOptionalBSON<T>(_ document: BSONDocument?, _ body: (OpaquePointer?) throws -> T) throws -> T {
        guard let document else { return try body(nil) }
        return try withBSON(document) { try body($0) }
    }

    /// Storage for a reply that the C call initialises (libmongoc always initialises `reply`).
    static func withReply<T>(_ body: (OpaquePointer) -> T) -> (T, BSONDocument) {
        let reply = cmongoc_reply_alloc()!
        defer { free(UnsafeMutableRawPointer(reply)) }
        let result = body(reply)
        defer { bson_destroy(reply) }
        return (result, document(reply))
    }

    static func document(_ bson: OpaquePointer) -> BSONDocument {
        guard let json = bson_as_canonical_extended_json(bson, nil) else { return [:] }
        defer { bson_free(json) }
        return BSONDocument(extendedJSON: String(cString: json)) ?? [:]
    }

    // MARK: Operations

    func withCollection<T>(_ name: String, _ body: (OpaquePointer) throws -> T) rethrows -> T {
        let collection = mongoc_client_get_collection(client, databaseName, name)!
        defer { mongoc_collection_destroy(collection) }
        return try body(collection)
    }

    @discardableResult
    func command(_ command: BSONDocument) throws -> BSONDocument {
        var error = bson_error_t()
        let (ok, reply) = try Self.withBSON(command) { bson in
            Self.withReply { mongoc_client_command_simple(client, databaseName, bson, nil, $0, &error) }
        }
        guard ok else { throw MongoError.storeError(error) }
        return reply
    }

    func insertOne(_ collectionName: String, _ document: BSONDocument) throws {
        var error = bson_error_t()
        let ok = try withCollection(collectionName) { collection in
            try Self.withBSON(document) { mongoc_collection_insert_one(collection, $0, nil, nil, &error) }
        }
        guard ok else { throw MongoError.storeError(error) }
    }

    func find(_ collectionName: String, _ filter: BSONDocument, options: BSONDocument? = nil) throws -> [BSONDocument] {
        try withCollection(collectionName) { collection in
            try Self.withBSON(filter) { filterBSON in
                try Self.withOptionalBSON(options) { optionsBSON in
                    let cursor = mongoc_collection_find_with_opts(collection, filterBSON, optionsBSON, nil)!
                    defer { mongoc_cursor_destroy(cursor) }
                    var results: [BSONDocument] = []
                    var current: OpaquePointer?
                    while mongoc_cursor_next(cursor, &current), let current {
                        results.append(Self.document(current))
                    }
                    var error = bson_error_t()
                    if mongoc_cursor_error(cursor, &error) { throw MongoError.storeError(error) }
                    return results
                }
            }
        }
    }

    /// Returns (matched, modified, upserted) counts.
    @discardableResult
    func update(_ collectionName: String, _ filter: BSONDocument, _ update: BSONDocument, many: Bool = false, upsert: Bool = false) throws -> (matched: Int64, modified: Int64) {
        var error = bson_error_t()
        let options: BSONDocument? = upsert ? ["upsert": .bool(true)] : nil
        let (ok, reply) = try withCollection(collectionName) { collection in
            try Self.withBSON(filter) { filterBSON in
                try Self.withBSON(update) { updateBSON in
                    try Self.withOptionalBSON(options) { optionsBSON in
                        Self.withReply { reply in
                            many
                                ? mongoc_collection_update_many(collection, filterBSON, updateBSON, optionsBSON, reply, &error)
                                : mongoc_collection_update_one(collection, filterBSON, updateBSON, optionsBSON, reply, &error)
                        }
                    }
                }
            }
        }
        guard ok else { throw MongoError.storeError(error) }
        return (reply["matchedCount"]?.int ?? 0, reply["modifiedCount"]?.int ?? 0)
    }

    @discardableResult
    func delete(_ collectionName: String, _ filter: BSONDocument, many: Bool = false) throws -> Int64 {
        var error = bson_error_t()
        let (ok, reply) = try withCollection(collectionName) { collection in
            try Self.withBSON(filter) { filterBSON in
                Self.withReply { reply in
                    many
                        ? mongoc_collection_delete_many(collection, filterBSON, nil, reply, &error)
                        : mongoc_collection_delete_one(collection, filterBSON, nil, reply, &error)
                }
            }
        }
        guard ok else { throw MongoError.storeError(error) }
        return reply["deletedCount"]?.int ?? 0
    }

    /// findAndModify returning the new document (upserting when asked).
    func findAndModify(_ collectionName: String, query: BSONDocument, update: BSONDocument, upsert: Bool) throws -> BSONDocument? {
        let reply = try command([
            "findAndModify": .string(collectionName), "query": .document(query), "update": .document(update),
            "upsert": .bool(upsert), "new": .bool(true),
        ])
        return reply["value"]?.document
    }
}
