// RouteSettings: where the `routes` setting comes from: the flag `--routes JSON`, the variable
// AUTHGATE_ROUTES (JSON), or the configuration file's `routes:` list, in that order. JSON is
// read with the YAML parser (JSON is YAML), so every source gives the same value types.
import Foundation

enum RouteSettings {
    static func load(text: String?, source: String, fileValue: Any?, defaultTimeout: TimeInterval, shotgridURL: String?) throws(ConfigError) -> [ProxyRoute] {
        var value = fileValue
        if let text {
            do {
                value = try YAMLDocument.load(text)
            } catch {
                throw ConfigError(setting: "routes", message: "\(source) is not valid JSON")
            }
        }
        guard let value, !(value is NSNull) else { return [] }
        return try ProxyRoute.parseList(value, defaultTimeout: defaultTimeout, shotgridURL: shotgridURL)
    }
}
