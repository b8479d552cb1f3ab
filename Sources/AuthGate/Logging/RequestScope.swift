// RequestScope: what every log line written while a request is handled should carry (its id),
// held in a task-local so the log handler adds it when a line is written rather than each
// request paying to attach it to a logger.
public import Logging

public enum RequestScope {
    @TaskLocal public static var requestID: String?
    /// The client's address, for audit lines written by flows that are not told it.
    @TaskLocal public static var clientIP: String?

    /// For LoggingSystem.bootstrap: `authgate.request.id` on every line of a request.
    public static let metadataProvider = Logger.MetadataProvider {
        guard let id = requestID else { return [:] }
        return ["authgate.request.id": .string(id)]
    }
}
