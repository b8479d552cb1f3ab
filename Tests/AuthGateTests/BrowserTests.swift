// BrowserTests: the example single-page app (examples/spa) in headless Chromium, against the real
// `authgate` binary: sign-in page, wrong and right passwords, silent refresh past the access
// token's lifetime, an API through the proxy, sessions, sign out everywhere, a refused foreign
// `rd`. The app is served from its own origin, so every call to the gateway is a CORS call.
import AuthGateTesting
import Foundation
import Testing

@Suite struct BrowserTests {
    /// Where the screenshots of the last run go (git-ignored, kept after the run to look at).
    static let outputDirectory = TestEnvironment.projectRoot + "/.build/browser-test"

    @Test(.enabled(if: Browser.isUsable, Comment(rawValue: Browser.unavailableReason)), .timeLimit(.minutes(5)))
    func exampleAppSignsInRefreshesSilentlyAndSignsOutEverywhere() async throws {
        let programs = try Browser.probe.get()
        let echo = EchoUpstream()
        try await echo.start()
        try await finally({
            let appPort = try TestEnvironment.freePort()
            // localhost, not 127.0.0.1: the name every browser treats as a secure context for
            // `Secure` cookies over plain HTTP. Gateway and app differ by port only: one site,
            // two origins, so SameSite=Strict holds and CORS is exercised.
            let appOrigin = "http://localhost:\(appPort)"
            let routes = #"[{"prefix":"/api","upstream":"\#(echo.baseURL)","sign_in_redirect":true}]"#
            let ttl = 5
            try await withGatewayProcess(["--access-ttl", String(ttl), "--allowed-origins", appOrigin, "--routes", routes]) { gateway in
                let gatewayOrigin = "http://localhost:\(gateway.port)"
                let directory = try TestEnvironment.temporaryDirectory()
                defer { TestEnvironment.remove(directory) }
                let app = try ChildProcess(
                    programs.python, ["-m", "http.server", String(appPort), "--bind", "127.0.0.1", "--directory", TestEnvironment.projectRoot + "/examples/spa"],
                    log: directory + "/app-server.log")
                try await finally({
                    try await app.waitUntilListening(port: appPort, logs: [])
                    try? FileManager.default.removeItem(atPath: Self.outputDirectory)
                    let script = try ChildProcess(
                        programs.python,
                        [
                            TestEnvironment.projectRoot + "/Tests/browser/spa_flow.py", "--app", "\(appOrigin)/?gateway=\(gatewayOrigin)",
                            "--gateway", gatewayOrigin, "--api-path", "/api/hello", "--password", "correct-horse-1", "--access-ttl", String(ttl),
                            "--output", Self.outputDirectory, "--chromium", programs.chromium, "--chromedriver", programs.chromedriver,
                        ],
                        log: directory + "/browser.log")
                    let finished = await script.exited(within: 240)
                    if !finished { await script.stop { kill(script.pid, SIGTERM) } }
                    let output = script.output
                    print("browser test output:\n\(output)")
                    #expect(finished && script.status == 0 && output.contains("result: all"), "\(output)\ngateway: \(gateway.stderrTail())")
                    for name in ["sign-in.png", "app-signed-in.png"] {
                        let path = Self.outputDirectory + "/" + name
                        #expect(FileManager.default.fileExists(atPath: path), "no screenshot at \(path)")
                    }
                }, { await app.stop { kill(app.pid, SIGTERM) } })
            }
        }, { await echo.stop() })
    }
}
