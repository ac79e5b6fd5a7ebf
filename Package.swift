// swift-tools-version: 6.1
import PackageDescription

// Every Swift target is built in Swift 6 language mode with these upcoming features on.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let log = Target.Dependency.product(name: "Logging", package: "swift-log")
let metrics = Target.Dependency.product(name: "Metrics", package: "swift-metrics")
let crypto = Target.Dependency.product(name: "Crypto", package: "swift-crypto")
let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")
let yams = Target.Dependency.product(name: "Yams", package: "Yams")
let sqlite = Target.Dependency.product(name: "SQLiteNIO", package: "sqlite-nio")
let postgres = Target.Dependency.product(name: "PostgresNIO", package: "postgres-nio")

/// The capability modules: each is its own library product (one job per module).
/// Keep this table and the umbrella target's re-exports in step.
let capabilities: [(name: String, dependencies: [Target.Dependency])] = [
    ("PHIGuardPasswords", ["PHIGuardSecureMemory", "CSodium", "CArgon2"]),
    ("PHIGuardTOTP", ["PHIGuardSecureMemory", "PHIGuardRateLimit", "CSodium", "CQRencode", crypto, log]),
    ("PHIGuardFieldEncryption", ["PHIGuardSecureMemory", "CSodium", log]),
    ("PHIGuardAccess", ["PHIGuardSecureMemory", yams, log]),
    ("PHIGuardAudit", ["PHIGuardSecureMemory", "CSodium", log]),
    (
        "PHIGuardErrors",
        [
            "PHIGuardPasswords", "PHIGuardRateLimit", "PHIGuardTOTP", "PHIGuardFieldEncryption", "PHIGuardAudit",
            "PHIGuardAuthentication", log, metrics,
        ]
    ),
    ("PHIGuardRateLimit", ["PHIGuardSecureMemory", log]),
    (
        "PHIGuardAuthentication",
        [
            "PHIGuardAccess", "PHIGuardPasswords", "PHIGuardTOTP", "PHIGuardRateLimit", "PHIGuardAudit",
            "PHIGuardSecureMemory", "CSodium", log,
        ]
    ),
    // Storage backends.
    (
        "PHIGuardSQLite",
        [
            "PHIGuardAudit", "PHIGuardAuthentication", "PHIGuardAccess", "PHIGuardRateLimit", "PHIGuardSecureMemory",
            "CSodium", sqlite, log,
        ]
    ),
    (
        "PHIGuardPostgres",
        [
            "PHIGuardAudit", "PHIGuardAuthentication", "PHIGuardAccess", "PHIGuardRateLimit", "PHIGuardSecureMemory",
            "CSodium", postgres, log,
        ]
    ),
]

/// One test target per module. Fixtures (test vectors) are in Tests/Fixtures, read through
/// PHIGuardTestSupport; Tests/Fixtures/SOURCES.md names where each came from.
let testedModules: [(module: String, extra: [Target.Dependency])] = [
    ("PHIGuardSecureMemory", []),
    ("PHIGuardPasswords", ["PHIGuardSecureMemory"]),
    ("PHIGuardTOTP", ["PHIGuardSecureMemory", "PHIGuardRateLimit"]),
    ("PHIGuardFieldEncryption", ["PHIGuardSecureMemory", "CSodium"]),
    ("PHIGuardAccess", []),
    ("PHIGuardAudit", ["PHIGuardSecureMemory"]),
    (
        "PHIGuardErrors",
        [
            "PHIGuardPasswords", "PHIGuardRateLimit", "PHIGuardTOTP", "PHIGuardFieldEncryption", "PHIGuardAudit",
            "PHIGuardAuthentication", log, metrics, .product(name: "InMemoryLogging", package: "swift-log"),
            .product(name: "MetricsTestKit", package: "swift-metrics"),
        ]
    ),
    ("PHIGuardRateLimit", []),
    (
        "PHIGuardAuthentication",
        ["PHIGuardAccess", "PHIGuardAudit", "PHIGuardPasswords", "PHIGuardRateLimit", "PHIGuardTOTP", "CSodium"]
    ),
    (
        "PHIGuardSQLite",
        ["PHIGuardAudit", "PHIGuardAuthentication", "PHIGuardRateLimit", "PHIGuardSecureMemory", sqlite]
    ),
    (
        "PHIGuardPostgres",
        ["PHIGuardAudit", "PHIGuardAuthentication", "PHIGuardRateLimit", "PHIGuardSecureMemory", postgres, log]
    ),
]
let testTargets: [Target] =
    [
        .target(
            name: "PHIGuardTestSupport", dependencies: ["PHIGuardAuthentication"], path: "Tests/PHIGuardTestSupport",
            swiftSettings: strictSettings)
    ]
    + testedModules.map { tested in
        .testTarget(
            name: tested.module + "Tests",
            dependencies: [.target(name: tested.module), "PHIGuardTestSupport"] + tested.extra,
            swiftSettings: strictSettings
        )
    }
    + [
        // Runs the built `phiguard` and example binaries end to end.
        .testTarget(
            name: "PHIGuardCLITests",
            dependencies: ["PHIGuardCLI", "PasswordDemo", "PatientPortal", "PHIGuardTestSupport", "PHIGuardTOTP"],
            swiftSettings: strictSettings
        )
    ]

let package = Package(
    name: "PHIGuard",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "PHIGuard", targets: ["PHIGuard"])
    ]
        + capabilities.map { .library(name: $0.name, targets: [$0.name]) }
        + [
            .executable(name: "phiguard", targets: ["PHIGuardCLI"])
        ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // C libraries from Debian packages, seen through module maps only; never in public API.
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "CArgon2", pkgConfig: "libargon2", providers: [.apt(["libargon2-dev"])]),
        .systemLibrary(name: "CQRencode", pkgConfig: "libqrencode", providers: [.apt(["libqrencode-dev"])]),

        // Secret material in sodium_malloc memory; internal to the package (not a product).
        .target(name: "PHIGuardSecureMemory", dependencies: ["CSodium"], swiftSettings: strictSettings),

        // The umbrella module re-exports every capability.
        .target(
            name: "PHIGuard", dependencies: capabilities.map { .target(name: $0.name) }, swiftSettings: strictSettings),

        // The admin CLI `phiguard`, for operators and CI pipelines. (Its folder is not `Sources/phiguard`:
        // on a case-insensitive file system that would be the umbrella's `Sources/PHIGuard`.)
        .executableTarget(
            name: "PHIGuardCLI",
            dependencies: capabilities.map { .target(name: $0.name) } + [argumentParser],
            swiftSettings: strictSettings
        ),

        // Examples are executable targets, not products (swift-argument-parser's pattern).
        .executableTarget(
            name: "PasswordDemo",
            dependencies: ["PHIGuardPasswords"],
            path: "Examples/PasswordDemo",
            swiftSettings: strictSettings
        ),
        // A patient-portal CLI over one SQLite file: sign-in, encrypted charts, audited reads (`make demo`).
        .executableTarget(
            name: "PatientPortal",
            dependencies: [
                "PHIGuardAccess", "PHIGuardAudit", "PHIGuardAuthentication", "PHIGuardErrors",
                "PHIGuardFieldEncryption", "PHIGuardPasswords", "PHIGuardRateLimit", "PHIGuardSQLite", "PHIGuardTOTP",
                argumentParser, sqlite, log,
            ],
            path: "Examples/PatientPortal",
            exclude: ["README.md"],
            swiftSettings: strictSettings
        ),
    ]
        + capabilities.map { .target(name: $0.name, dependencies: $0.dependencies, swiftSettings: strictSettings) }
        + testTargets
)
