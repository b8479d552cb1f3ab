// swift-tools-version:6.2
// Benchmarks: a package of its own, so the root package stays free of benchmark-only
// targets and dependencies. It depends on the root by path, so one `swift build -c release`
// here builds `authgate` (a product of the root) and the helpers scripts/bench runs beside it:
// the `bare-hummingbird` baseline, the `bench-upstream` echo server behind the proxy route, the
// `bench-fake-shotgrid` identity provider and the `bench-sessions` store seeder. Run through
// scripts/bench, not by hand.
import PackageDescription

// As in the root package: our own targets build without a warning.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "authgate-benchmarks",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "bare-hummingbird", targets: ["bare-hummingbird"]),
        .executable(name: "bench-upstream", targets: ["bench-upstream"]),
        .executable(name: "bench-sessions", targets: ["bench-sessions"]),
        .executable(name: "bench-fake-shotgrid", targets: ["bench-fake-shotgrid"]),
    ],
    dependencies: [
        // The root package: `swift build --product authgate` builds its executable here.
        .package(name: "authgate", path: ".."),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    ],
    targets: [
        // The baseline: the same Hummingbird version and release build as authgate, one
        // route, no middleware. Ratios against it cancel out the machine's speed.
        .executableTarget(
            name: "bare-hummingbird",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")],
            swiftSettings: swiftSettings
        ),
        // The upstream of the proxy scenario, loaded directly and through authgate's route.
        .executableTarget(
            name: "bench-upstream",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")],
            swiftSettings: swiftSettings
        ),
        // Writes sessions straight into a store (no argon2id per session) and prints their tokens.
        .executableTarget(
            name: "bench-sessions",
            dependencies: [.product(name: "AuthGate", package: "authgate")],
            swiftSettings: swiftSettings
        ),
        // The tests' FakeShotGrid on a port of its own, for the ShotGrid scenarios.
        .executableTarget(
            name: "bench-fake-shotgrid",
            dependencies: [.product(name: "AuthGateTesting", package: "authgate")],
            swiftSettings: swiftSettings
        ),
    ]
)
