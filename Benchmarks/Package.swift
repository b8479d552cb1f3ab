// swift-tools-version:6.1
// Benchmarks: a package of its own, so the root package stays free of benchmark-only
// targets and dependencies. It depends on the root by path, so one `swift build -c release`
// here builds both binaries scripts/bench compares: `authgate` (a product of the root) and
// `bare-hummingbird`, the baseline. Run through scripts/bench, not by hand.
import PackageDescription

let package = Package(
    name: "authgate-benchmarks",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "bare-hummingbird", targets: ["bare-hummingbird"]),
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
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")]
        ),
    ]
)
