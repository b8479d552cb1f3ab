// FuzzMain: one libFuzzer binary for every target; the first argument (or AUTHGATE_FUZZ_TARGET)
// names the target, the rest are libFuzzer's own flags and corpus folders.
import CLibFuzzer
import Foundation

/// A fuzz target: one input in, nothing out; a violated property stops the process (a trap),
/// which libFuzzer reports as a crash and saves the input for.
struct FuzzTarget: Sendable {
    var name: String
    var summary: String
    var run: @Sendable (FuzzInput) -> Void
}

enum FuzzTargets {
    static let all: [FuzzTarget] = [
        FuzzTarget(name: "jwt", summary: "JWTCodec.verify: raw tokens, re-signed header/payload JSON, sign/verify round trips, mutated valid tokens", run: JWTTarget.run),
        FuzzTarget(name: "body", summary: "login/refresh bodies as JSON and form, and the Content-Type choice", run: BodyTarget.run),
        FuzzTarget(name: "headers", summary: "Authorization, cookies and CSRF/Origin, X-Request-Id, forwarded and identity headers", run: HeadersTarget.run),
        FuzzTarget(name: "config", summary: "routes as JSON, YAML configuration files", run: ConfigTarget.run),
        FuzzTarget(name: "bson", summary: "BSON documents, session and user documents, re-encoding", run: BSONTarget.run),
        FuzzTarget(name: "address", summary: "IP addresses, CIDR ranges, X-Forwarded-For resolution", run: AddressTarget.run),
        FuzzTarget(name: "wire", summary: "the wire JSON encoder against Foundation's decoder", run: WireTarget.run),
    ]
}

@main
enum FuzzMain {
    /// Set once before libFuzzer starts; its callback is a C function pointer and cannot capture.
    /// libFuzzer calls back on the thread that started it, one input at a time.
    nonisolated(unsafe) static var target: FuzzTarget?

    static func main() {
        var arguments = CommandLine.arguments
        var name = ProcessInfo.processInfo.environment["AUTHGATE_FUZZ_TARGET"]
        if arguments.count > 1, !arguments[1].hasPrefix("-"), FuzzTargets.all.contains(where: { $0.name == arguments[1] }) {
            let chosen = arguments.remove(at: 1)
            // libFuzzer re-runs itself for some modes (-minimize_crash, -fork): keep the choice.
            setenv("AUTHGATE_FUZZ_TARGET", chosen, 1)
            name = chosen
        }
        guard let name, let chosen = FuzzTargets.all.first(where: { $0.name == name }) else {
            var usage = "usage: authgate-fuzz TARGET [libFuzzer flags] [corpus folders]\n(or AUTHGATE_FUZZ_TARGET=TARGET)\ntargets:\n"
            for target in FuzzTargets.all { usage += "  \(target.name.padding(toLength: 8, withPad: " ", startingAt: 0)) \(target.summary)\n" }
            FileHandle.standardError.write(Data(usage.utf8))
            exit(2)
        }
        target = chosen
        var argc = CInt(arguments.count)
        var cStrings: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        let status = cStrings.withUnsafeMutableBufferPointer { buffer in
            var argv = buffer.baseAddress
            return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
                FuzzMain.target?.run(FuzzInput(UnsafeRawBufferPointer(start: data, count: size)))
                return 0
            }
        }
        exit(status)
    }
}
