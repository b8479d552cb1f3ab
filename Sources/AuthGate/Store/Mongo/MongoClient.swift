// MongoClient: a client borrowed from the pool for one work item, with the few collection
// operations the store makes. Pointers are lent only inside `withBSON { }` / `withReply { }`.
import CMongoC
import Foundation

struct MongoClient {
    let client: OpaquePointer
    let databaseName: String

    // MARK: BSON at the C boundary

    // Documents cross as whole BSON byte buffers, not built with bson_append_* or read with
    // bson_iter_*: one Swift codec then owns every type rule (and is tested byte for byte
    // against pymongo), encoding is one linear write with no C call per element, and libbson
    // reads our buffer in place (bson_init_static) while we read its buffers in place
    // (bson_get_data), so no document is copied at the boundary.

    /// Lends `document` as a read-only bson_t over our bytes; valid only inside `body`.
    static func withBSON<T>(_ document: BSONDocument, _ body: (OpaquePointer) throws -> T) throws -> T {
        let bytes: [UInt8]
        do {
            bytes = try document.bsonBytes()
        } catch {
            throw StoreError.failed("cannot encode document: \(error)")
        }
        let bson = cmongoc_bson_alloc()!
        defer { free(UnsafeMutableRawPointer(bson)) }
        return try bytes.withUnsafeBufferPointer { buffer in
            // bson_init_static checks the length prefix and terminator, and copies nothing.
            guard bson_init_static(bson, buffer.baseAddress, buffer.count) else {
                throw StoreError.failed("cannot encode document")
            }
            defer { bson_destroy(bson) }
            return try body(bson)
        }
    }

    static func withOptionalBSON<T>(_ document: BSONDocument?, _ body: (OpaquePointer?) throws -> T) throws -> T {
        guard let document else { return try body(nil) }
        return try withBSON(document) { try body($0) }
    }

    /// Storage for a reply that the C call initialises (libmongoc always initialises `reply`).
    static func withReply<T>(_ body: (OpaquePointer) -> T) throws -> (T, BSONDocument) {
        let reply = cmongoc_bson_alloc()!
        defer { free(UnsafeMutableRawPointer(reply)) }
        let result = body(reply)
        defer { bson_destroy(reply) }
        return (result, try document(reply))
    }

    /// Decodes a document libbson owns, reading its bytes in place.
    static func document(_ bson: OpaquePointer) throws -> BSONDocument {
        let bytes = UnsafeBufferPointer(start: bson_get_data(bson), count: Int(cmongoc_bson_len(bson)))
        do {
            return try BSONDocument(bsonBytes: bytes)
        } catch {
            throw StoreError.failed("malformed BSON from the server: \(error)")
        }
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
            try Self.withReply { mongoc_client_command_simple(client, databaseName, bson, nil, $0, &error) }
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
                        results.append(try Self.document(current))
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
                        try Self.withReply { reply in
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
                try Self.withReply { reply in
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
