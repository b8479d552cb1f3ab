// StoreCall: the one place store failures turn into SessionError.storeUnavailable, so that an
// outage is never reported as bad credentials.
import Logging

/// Runs a store operation; store errors become `.storeUnavailable` (logged), session errors pass.
func storeCall<T>(_ logger: Logger, _ body: () async throws -> T) async throws(SessionError) -> T {
    do {
        return try await body()
    } catch let error as SessionError {
        throw error
    } catch {
        logger.error("store operation failed", metadata: ["error": "\(error)"])
        throw .storeUnavailable
    }
}
