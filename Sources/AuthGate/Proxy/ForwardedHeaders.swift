// ForwardedHeaders: the contract's header rules between client and upstream: identity headers
// replace any the client sent (in any letter case), hop-by-hop headers (RFC 9110 §7.6.1) and the
// refresh cookie never cross, X-Forwarded-* say who the client is and what it used.
import Foundation
import HTTPTypes

enum ForwardedHeaders {
    /// Hop-by-hop headers, lowercased; `Connection` may name more.
    static let hopByHop: Set<String> = ["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"]
    /// Framing the HTTP client sets itself from the body it sends.
    static let framing: Set<String> = ["content-length", "expect"]

    static let forwardedFor = HTTPField.Name("X-Forwarded-For")!
    static let forwardedProto = HTTPField.Name("X-Forwarded-Proto")!
    static let forwardedHost = HTTPField.Name("X-Forwarded-Host")!

    /// Everything a message's `Connection` header lists, lowercased.
    static func connectionListed(_ fields: HTTPFields) -> Set<String> {
        var names: Set<String> = []
        for value in fields[values: .connection] {
            for token in value.split(separator: ",") {
                names.insert(token.trimmingCharacters(in: .whitespaces).lowercased())
            }
        }
        return names
    }

    /// Who the client is and what it used, for the X-Forwarded-* headers.
    struct Client {
        var peer: String
        /// The peer is a trusted proxy, so its X-Forwarded-Proto/-Host are kept.
        var peerIsTrusted: Bool
        /// The Host the client addressed.
        var authority: String?
    }

    /// The headers the upstream gets; `authorization` replaces the client's `Authorization` (nil: none).
    static func toUpstream(_ incoming: HTTPFields, claims: AccessClaims, client: Client, authorization: String?) -> HTTPFields {
        let listed = connectionListed(incoming)
        var outgoing = HTTPFields()
        outgoing.reserveCapacity(incoming.count + 8)
        var chain: [String] = []
        var keptProto: String?
        var keptHost: String?
        for field in incoming {
            let name = field.name.canonicalName
            if name.hasPrefix(IdentityHeaders.prefix) || hopByHop.contains(name) || listed.contains(name) || framing.contains(name) { continue }
            switch field.name {
            case .authorization: continue
            case .cookie:
                if let kept = withoutRefreshCookie(field.value) { outgoing.append(HTTPField(name: .cookie, value: kept)) }
            case forwardedFor: chain.append(field.value)
            case forwardedProto: keptProto = client.peerIsTrusted ? field.value : nil
            case forwardedHost: keptHost = client.peerIsTrusted ? field.value : nil
            default: outgoing.append(field)
            }
        }
        chain.append(client.peer)
        outgoing[forwardedFor] = chain.joined(separator: ", ")
        outgoing[forwardedProto] = keptProto ?? "http"
        if let host = keptHost ?? client.authority { outgoing[forwardedHost] = host }
        if let authorization { outgoing[.authorization] = authorization }
        IdentityHeaders.set(claims, in: &outgoing)
        return outgoing
    }

    /// The upstream's answer headers minus hop-by-hop ones.
    static func toClient(_ incoming: HTTPFields) -> HTTPFields {
        let listed = connectionListed(incoming)
        var outgoing = HTTPFields()
        outgoing.reserveCapacity(incoming.count)
        for field in incoming {
            let name = field.name.canonicalName
            if hopByHop.contains(name) || listed.contains(name) { continue }
            outgoing.append(field)
        }
        return outgoing
    }

    /// A Cookie header value without `authgate_refresh`; nil when nothing else is left.
    static func withoutRefreshCookie(_ value: String) -> String? {
        let kept = value.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.filter { pair in
            !pair.isEmpty && cookieName(pair) != RefreshCookie.name
        }
        return kept.isEmpty ? nil : kept.joined(separator: "; ")
    }

    /// A pair's name as the upstream reads it: HTTPTypes turns control characters into spaces on
    /// the way out, so "\u{7f}authgate_refresh=…" must count as the refresh cookie too.
    private static func cookieName(_ pair: String) -> String {
        String(decoding: pair.utf8.prefix { $0 != UInt8(ascii: "=") }, as: UTF8.self).trimmingCharacters(in: cookieNameBlanks)
    }

    private static let cookieNameBlanks = CharacterSet.whitespaces.union(.controlCharacters)
}
