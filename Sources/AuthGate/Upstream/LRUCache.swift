// LRUCache: a bounded map that forgets its least recently used entry first. Not thread-safe;
// UpstreamPool and SessionCache guard theirs with a lock.

struct LRUCache<Key: Hashable, Value> {
    private final class Node {
        let key: Key
        var value: Value
        var lastUsed: Double
        var newer: Node?
        weak var older: Node?
        init(key: Key, value: Value, lastUsed: Double) {
            self.key = key
            self.value = value
            self.lastUsed = lastUsed
        }
    }

    let capacity: Int
    private var nodes: [Key: Node] = [:]
    private var oldest: Node?  // head: next to evict
    private var newest: Node?  // tail

    init(capacity: Int) { self.capacity = max(1, capacity) }

    var count: Int { nodes.count }

    /// The value, marked as just used.
    mutating func get(_ key: Key, now: Double) -> Value? {
        guard let node = nodes[key] else { return nil }
        node.lastUsed = now
        moveToNewest(node)
        return node.value
    }

    /// The value without marking it used.
    func peek(_ key: Key) -> Value? { nodes[key]?.value }

    /// Replaces an existing value without marking it used; no-op when absent.
    mutating func replace(_ key: Key, _ value: Value) { nodes[key]?.value = value }

    /// Inserts or replaces; returns what had to be evicted to stay within capacity.
    mutating func set(_ key: Key, _ value: Value, now: Double) -> [(Key, Value)] {
        if let node = nodes[key] {
            let previous = node.value
            node.value = value
            node.lastUsed = now
            moveToNewest(node)
            return [(key, previous)]
        }
        let node = Node(key: key, value: value, lastUsed: now)
        nodes[key] = node
        append(node)
        var evicted: [(Key, Value)] = []
        while nodes.count > capacity, let victim = oldest {
            unlink(victim)
            nodes[victim.key] = nil
            evicted.append((victim.key, victim.value))
        }
        return evicted
    }

    mutating func remove(_ key: Key) -> Value? {
        guard let node = nodes.removeValue(forKey: key) else { return nil }
        unlink(node)
        return node.value
    }

    /// Removes entries unused since `cutoff`; the list is in use order, so this stops early.
    mutating func removeIdle(before cutoff: Double) -> [(Key, Value)] {
        var removed: [(Key, Value)] = []
        while let node = oldest, node.lastUsed < cutoff {
            unlink(node)
            nodes[node.key] = nil
            removed.append((node.key, node.value))
        }
        return removed
    }

    mutating func removeAll() -> [(Key, Value)] {
        var removed: [(Key, Value)] = []
        while let node = oldest {
            unlink(node)
            removed.append((node.key, node.value))
        }
        nodes = [:]
        return removed
    }

    /// Keys from least to most recently used (for tests and diagnostics).
    var keysByAge: [Key] {
        var keys: [Key] = []
        var node = oldest
        while let current = node {
            keys.append(current.key)
            node = current.newer
        }
        return keys
    }

    private mutating func moveToNewest(_ node: Node) {
        guard newest !== node else { return }
        unlink(node)
        append(node)
    }

    private mutating func append(_ node: Node) {
        node.older = newest
        node.newer = nil
        newest?.newer = node
        newest = node
        if oldest == nil { oldest = node }
    }

    private mutating func unlink(_ node: Node) {
        if oldest === node { oldest = node.newer }
        if newest === node { newest = node.older }
        node.older?.newer = node.newer
        node.newer?.older = node.older
        node.newer = nil
        node.older = nil
    }
}
