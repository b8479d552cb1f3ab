// FuzzFindingsTests: what scripts/fuzz found, pinned: configuration text that made Yams trap or
// run for ever is a ConfigError, and an address with a NUL byte is not an address.
@testable import AuthGate
import AuthGateTesting
import Foundation
import Testing

@Suite struct FuzzFindingsTests {
    /// Yams force-unwraps a mapping key as a string; a list or a mapping as key trapped the process.
    @Test(arguments: [#"[{["prefix"]: "/a"}]"#, #"[{{"a": 1}: "/a"}]"#, "- ? [a, b]\n  : /x\n"])
    func nonScalarMappingKeyInRoutesIsAConfigError(_ text: String) {
        #expect(throws: ConfigError.self) {
            try RouteSettings.load(text: text, source: "AUTHGATE_ROUTES", fileValue: nil, defaultTimeout: 10, shotgridURL: nil)
        }
    }

    @Test func nonScalarMappingKeyInConfigFileIsAConfigError() throws {
        let directory = try TestEnvironment.temporaryDirectory()
        defer { TestEnvironment.remove(directory) }
        let path = directory + "/authgate.yaml"
        try "listen: 127.0.0.1:0\n? [a]\n: b\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: ConfigError.self) { try ConfigFile.load(path) }
    }

    /// Nine levels of ten aliases each would expand to a billion nodes; refused at the node cap.
    @Test func aliasExpansionIsBounded() {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...9 {
            text += "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        text += "routes: *a9\n"
        #expect(throws: YAMLDocument.Refused.self) { try YAMLDocument.load(text) }
        // A few aliases, as people write them, still work.
        let routes = try? RouteSettings.load(
            text: nil, source: "file",
            fileValue: YAMLDocument.load("base: &b {upstream: 'http://a'}\nroutes: [{<<: *b, prefix: /x}, {<<: *b, prefix: /y}]\n")
                .flatMap { ($0 as? [String: Any])?["routes"] },
            defaultTimeout: 10, shotgridURL: nil)
        #expect(routes?.map(\.prefix) == ["/x", "/y"])
    }

    /// "␀" stands for the NUL byte, so the test's arguments print readably.
    @Test(arguments: ["10.0.0.1␀junk", "::ff␀␀", "␀", "fe80::1␀%eth0"])
    func addressWithNULIsRefused(_ written: String) {
        let text = written.replacingOccurrences(of: "␀", with: "\0")
        #expect(IPAddress(text) == nil)
        #expect(IPNetwork(text) == nil)
    }
}

extension FuzzFindingsTests {
    /// A control character before the name hid the refresh cookie from the filter, and HTTPTypes
    /// then turned it into a space, so the upstream got `authgate_refresh=…`.
    @Test(arguments: [[0x1e] + Array("authgate_refresh=t; theme=dark".utf8), Array("theme=dark;".utf8) + [0x7f] + Array("authgate_refresh=t".utf8),
        Array("authgate_refresh".utf8) + [0x01] + Array("=t; theme=dark".utf8)])
    func refreshCookieBehindControlCharactersIsStripped(_ bytes: [UInt8]) {
        let kept = ForwardedHeaders.withoutRefreshCookie(String(decoding: bytes, as: UTF8.self))
        #expect(kept == "theme=dark")
    }
}
