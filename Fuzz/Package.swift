// swift-tools-version:6.2
// Fuzz: libFuzzer targets for authgate's parsers, a package of its own so the root package and
// CI never compile it. It depends on the root by path and reaches internal code through
// `@testable import AuthGate`, so scripts/fuzz builds with `-enable-testing` (and
// `-sanitize=fuzzer,address`) in its own scratch folder, .build-fuzz. Run through scripts/fuzz.
import PackageDescription

let package = Package(
    name: "authgate-fuzz",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "authgate-fuzz", targets: ["AuthGateFuzz"]),
    ],
    dependencies: [
        .package(name: "authgate", path: ".."),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // libFuzzer's driver entry point, so our own `main` can pick the target and hand over.
        .systemLibrary(name: "CLibFuzzer"),
        .executableTarget(
            name: "AuthGateFuzz",
            dependencies: [
                "CLibFuzzer",
                .product(name: "AuthGate", package: "authgate"),
                .product(name: "AuthGateTesting", package: "authgate"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: [
                .enableUpcomingFeature("ExistentialAny"),
                .enableUpcomingFeature("MemberImportVisibility"),
                .enableUpcomingFeature("InternalImportsByDefault"),
                .treatAllWarnings(as: .error),
            ]
        ),
    ]
)
