// swift-tools-version: 6.1
import PackageDescription

// PHIGuard's benchmarks: a package of its own so that users of the library never build
// ordo-one/benchmark. Run with `make bench` from the repository root (see README.md here).
let benchmark = Target.Dependency.product(name: "Benchmark", package: "benchmark")

/// One executable target per benchmark suite, in Benchmarks/<Name>/ (the plugin's discovery rule).
func suite(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .executableTarget(
        name: name,
        dependencies: [benchmark] + dependencies,
        path: "Benchmarks/\(name)",
        swiftSettings: [.enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("MemberImportVisibility")],
        plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
    )
}

let package = Package(
    name: "PHIGuardBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "PHIGuard", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.65.0"),
    ],
    targets: [
        suite("PasswordBenchmarks", [.product(name: "PHIGuardPasswords", package: "PHIGuard")]),
        suite("RateLimitBenchmarks", [.product(name: "PHIGuardRateLimit", package: "PHIGuard")]),
        suite("AccessBenchmarks", [.product(name: "PHIGuardAccess", package: "PHIGuard")]),
        suite(
            "PostgresRateLimitBenchmarks",
            [
                .product(name: "PHIGuardRateLimit", package: "PHIGuard"),
                .product(name: "PHIGuardPostgres", package: "PHIGuard"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        suite(
            "FieldEncryptionBenchmarks",
            [.product(name: "PHIGuardFieldEncryption", package: "PHIGuard"), "CSodiumBench"]),
        // libsodium, for the raw-call baselines the field-encryption and audit suites compare against.
        .systemLibrary(name: "CSodiumBench", path: "Sources/CSodiumBench", pkgConfig: "libsodium"),
        suite("TOTPBenchmarks", [.product(name: "PHIGuardTOTP", package: "PHIGuard")]),
        suite(
            "RecordsBenchmarks",
            [
                .product(name: "PHIGuardRecords", package: "PHIGuard"),
                .product(name: "PHIGuardAccess", package: "PHIGuard"),
                .product(name: "PHIGuardAudit", package: "PHIGuard"),
                .product(name: "PHIGuardAuthentication", package: "PHIGuard"),
                .product(name: "PHIGuardFieldEncryption", package: "PHIGuard"),
                .product(name: "PHIGuardPasswords", package: "PHIGuard"),
                .product(name: "PHIGuardTOTP", package: "PHIGuard"),
                .product(name: "PHIGuardSQLite", package: "PHIGuard"),
            ]),
        suite(
            "RecordsListBenchmarks",
            [
                .product(name: "PHIGuardRecords", package: "PHIGuard"),
                .product(name: "PHIGuardAccess", package: "PHIGuard"),
                .product(name: "PHIGuardAudit", package: "PHIGuard"),
                .product(name: "PHIGuardAuthentication", package: "PHIGuard"),
                .product(name: "PHIGuardFieldEncryption", package: "PHIGuard"),
                .product(name: "PHIGuardPasswords", package: "PHIGuard"),
                .product(name: "PHIGuardTOTP", package: "PHIGuard"),
                .product(name: "PHIGuardSQLite", package: "PHIGuard"),
                .product(name: "PHIGuardPostgres", package: "PHIGuard"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        suite(
            "AuditBenchmarks",
            [
                .product(name: "PHIGuardAudit", package: "PHIGuard"),
                .product(name: "PHIGuardSQLite", package: "PHIGuard"),
                "CSodiumBench",
            ]),
    ]
)
