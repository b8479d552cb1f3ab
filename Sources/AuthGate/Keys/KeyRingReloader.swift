// KeyRingReloader: watches the key ring file and swaps a changed ring into the LiveKeyRing.
// It polls once a second, and checks at once (throttled) when a token names a key this server
// does not have, so a token signed by an instance that reloaded first is not refused here.
// An unreadable or invalid file is logged and the ring in use is kept.
import Foundation
public import Logging
import NIOConcurrencyHelpers
import NIOPosix
public import ServiceLifecycle

public final class KeyRingReloader: Service, Sendable {
    /// What identifies one version of the file: `keys rotate` writes a new file and renames it
    /// into place, so the inode changes even when size and mtime do not; the mode is there so
    /// that a `chmod 600` fixing a refused file is noticed.
    struct Fingerprint: Equatable {
        var inode: Int
        var size: Int
        var modified: Date
        var mode: Int
    }

    private struct State {
        var fingerprint: Fingerprint?
        var lastUrgentCheck = Date.distantPast
        var refusals = 0
    }

    let path: String
    let jwtSecret: Secret<String>?
    let sealKey: Secret<String>?
    let ring: LiveKeyRing
    let interval: TimeInterval
    let logger: Logger
    private let state: NIOLockedValueBox<State>
    /// Unknown `kid`s come from clients: at most one out-of-turn check per this interval.
    static let urgentCheckSpacing: TimeInterval = 0.25

    public init(config: GatewayConfig, ring: LiveKeyRing, logger: Logger) {
        path = config.keysPath
        jwtSecret = config.jwtSecret
        sealKey = config.sealKey
        self.ring = ring
        interval = config.keyReloadInterval
        self.logger = logger
        // The ring in use came from the file as it is now; only later versions are reloaded.
        state = NIOLockedValueBox(State(fingerprint: Self.fingerprint(path)))
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: .milliseconds(Int(self.interval * 1000)))
                await self.reloadIfChanged()
            }
        }
    }

    /// For a token whose `kid` is unknown: checks the file now unless a check ran just before.
    /// Returns whether a new ring was swapped in.
    func reloadForUnknownKey(now: Date = Date()) async -> Bool {
        let due = state.withLockedValue { state in
            guard now.timeIntervalSince(state.lastUrgentCheck) >= Self.urgentCheckSpacing else { return false }
            state.lastUrgentCheck = now
            return true
        }
        return due ? await reloadIfChanged() : false
    }

    /// Loads the file if it changed since the last load; returns whether the ring was replaced.
    @discardableResult
    public func reloadIfChanged() async -> Bool {
        // stat and read are blocking file I/O: keep them off the event loops.
        let outcome = try? await NIOThreadPool.singleton.runIfActive { [self] () -> Result<(KeyRing, Fingerprint)?, KeyRingError> in
            guard let current = Self.fingerprint(path), current != state.withLockedValue({ $0.fingerprint }) else { return .success(nil) }
            do throws(KeyRingError) {
                let loaded = try KeyRingFile.load(path: path)
                return .success((try KeyRingFile.applyOverrides(to: loaded, jwtSecret: jwtSecret, sealKey: sealKey), current))
            } catch {
                // Remember this version, so a broken file is reported once, not every second.
                state.withLockedValue {
                    $0.fingerprint = current
                    $0.refusals += 1
                }
                return .failure(error)
            }
        }
        switch outcome {
        case .success(let (loaded, fingerprint)?)?:
            ring.replace(loaded)
            state.withLockedValue { $0.fingerprint = fingerprint }
            logger.notice(
                "key ring reloaded",
                metadata: ["authgate.keys.signing": "\(loaded.activeSigningKeyID)", "authgate.keys.sealing": "\(loaded.activeSealingKeyID)"])
            return true
        case .failure(let error)?:
            logger.error("key ring file changed but cannot be used; keeping the keys in use", metadata: ["error": "\(error)"])
            return false
        default:
            return false
        }
    }

    /// How many changed versions of the file were refused (unreadable, invalid, group-readable).
    public var refusals: Int { state.withLockedValue { $0.refusals } }

    static func fingerprint(_ path: String) -> Fingerprint? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let inode = attributes[.systemFileNumber] as? Int, let size = attributes[.size] as? Int,
            let modified = attributes[.modificationDate] as? Date, let mode = attributes[.posixPermissions] as? Int
        else { return nil }
        return Fingerprint(inode: inode, size: size, modified: modified, mode: mode)
    }
}
