// YAMLDocument: configuration text (YAML, or JSON, which is YAML) to plain values, refusing what
// Yams would trap on (a mapping key that is a list or a mapping) or take exponential time over
// (aliases of aliases, a "billion laughs"), so a bad file or AUTHGATE_ROUTES is a ConfigError.
import Yams

enum YAMLDocument {
    /// Nodes one configuration may expand to, each use of an alias counted again.
    static let maximumNodes = 100_000

    struct Refused: Error {}

    static func load(_ text: String) throws -> Any? {
        guard let root = try Yams.compose(yaml: text) else { return nil }
        var budget = maximumNodes
        try check(root, budget: &budget)
        return root.any
    }

    private static func check(_ node: Node, budget: inout Int) throws(Refused) {
        budget -= 1
        guard budget >= 0 else { throw Refused() }
        switch node {
        case .scalar: return
        // Resolved by the parser; Yams' constructor would trap on one left over.
        case .alias: throw Refused()
        case .sequence(let sequence):
            for item in sequence { try check(item, budget: &budget) }
        case .mapping(let mapping):
            for (key, value) in mapping {
                guard case .scalar = key else { throw Refused() }
                try check(value, budget: &budget)
            }
        }
    }
}
