// ConfigFile: the YAML file of `--config`: its settings become the configuration reader's file
// layer, and its `routes:` list goes to RouteSettings. Read with Yams directly because
// swift-configuration's YAML snapshot refuses a list of mappings (the routes).
import Configuration
import Foundation

enum ConfigFile {
    /// The file's top-level mapping.
    static func load(_ path: String) throws(ConfigError) -> [String: Any] {
        guard FileManager.default.fileExists(atPath: path) else { throw ConfigError(setting: "config", message: "\(path) does not exist") }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw ConfigError(setting: "config", message: "cannot read \(path)") }
        let parsed: Any?
        do { parsed = try YAMLDocument.load(text) } catch { throw ConfigError(setting: "config", message: "\(path) is not valid YAML") }
        guard let parsed else { return [:] }
        guard let mapping = parsed as? [String: Any] else { throw ConfigError(setting: "config", message: "\(path) must be a mapping of settings") }
        return mapping
    }

    /// The settings of the file as configuration values; an unknown key is refused, so a typo
    /// does not silently leave a default in force.
    static func values(_ mapping: [String: Any]) throws(ConfigError) -> [AbsoluteConfigKey: ConfigValue] {
        let settings = Dictionary(uniqueKeysWithValues: GatewaySetting.all.map { ($0.name, $0) })
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        for (key, value) in mapping where key != GatewaySetting.routes {
            guard let setting = settings[key] else {
                throw ConfigError(setting: key, message: "unknown setting in the configuration file")
            }
            guard let text = scalarText(value) else {
                throw ConfigError(setting: key, message: "expected a single value or a list of values")
            }
            values[AbsoluteConfigKey([key])] = ConfigValue(.string(text), isSecret: setting.kind == .secret)
        }
        return values
    }

    private static func scalarText(_ value: Any) -> String? {
        switch value {
        case let text as String: text
        case let flag as Bool: String(flag)
        case let number as Int: String(number)
        case let number as Double: String(number)
        case let list as [Any]:
            list.allSatisfy({ !($0 is [Any]) && !($0 is [String: Any]) }) ? list.compactMap(scalarText).joined(separator: ",") : nil
        default: nil
        }
    }
}
