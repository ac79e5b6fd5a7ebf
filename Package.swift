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

let nioCore = Target.Dependency.product(name: "NIOCore", package: "swift-nio")
let nioPosix = Target.Dependency.product(name: "NIOPosix", package: "swift-nio")
let nioSSL = Target.Dependency.product(name: "NIOSSL", package: "swift-nio-ssl")
let hummingbird = Target.Dependency.product(name: "Hummingbird", package: "hummingbird")
let httpTypes = Target.Dependency.product(name: "HTTPTypes", package: "swift-http-types")

/// The capability modules: each is its own library product (one job per module) and the umbrella
/// `PHIGuard` re-exports each of them. Every target lists exactly the modules its files import
/// (`scripts/check-manifest.py`, run by `make test`, fails on any difference).
let capabilities: [(name: String, dependencies: [Target.Dependency])] = [
    ("PHIGuardPasswords", ["PHIGuardCrypto", "CArgon2"]),
    ("PHIGuardTOTP", ["PHIGuardCrypto", "PHIGuardRateLimit", crypto, log]),
    ("PHIGuardFieldEncryption", ["PHIGuardCrypto", log]),
    ("PHIGuardAccess", ["PHIGuardCrypto", yams, log, metrics]),
    ("PHIGuardAudit", ["PHIGuardCrypto", yams, log, metrics]),
    (
        "PHIGuardErrors",
        [
            "PHIGuardPasswords", "PHIGuardRateLimit", "PHIGuardTOTP", "PHIGuardFieldEncryption", "PHIGuardAudit",
            "PHIGuardAuthentication", "PHIGuardAccess", "PHIGuardRecords", log,
        ]
    ),
    ("PHIGuardRateLimit", ["PHIGuardCrypto", log]),
    ("PHIGuardRecords", ["PHIGuardAccess", "PHIGuardAudit", "PHIGuardFieldEncryption", "PHIGuardCrypto"]),
    ("PHIGuardKeys", ["PHIGuardCrypto", "PHIGuardFieldEncryption", "PHIGuardAudit", "PHIGuardAuthentication"]),
    (
        "PHIGuardAuthentication",
        [
            "PHIGuardAccess", "PHIGuardPasswords", "PHIGuardTOTP", "PHIGuardRateLimit", "PHIGuardAudit",
            "PHIGuardCrypto", "PHIGuardFieldEncryption", log, metrics,
        ]
    ),
]

/// Products of their own, never linked by the umbrella: the storage backends (each brings its
/// database driver), the terminal QR code (brings libqrencode) and the testing kit.
let addOns: [(name: String, dependencies: [Target.Dependency])] = [
    (
        "PHIGuardSQLite",
        [
            "PHIGuardAudit", "PHIGuardAuthentication", "PHIGuardAccess", "PHIGuardRateLimit", "PHIGuardRecords",
            "PHIGuardCrypto", "PHIGuardFieldEncryption", "PHIGuardTOTP", sqlite, nioCore, nioPosix, log,
        ]
    ),
    (
        "PHIGuardPostgres",
        [
            "PHIGuardAudit", "PHIGuardAuthentication", "PHIGuardAccess", "PHIGuardRateLimit", "PHIGuardCrypto",
            "PHIGuardErrors", "PHIGuardFieldEncryption", "PHIGuardRecords", "PHIGuardTOTP", postgres, nioCore, nioSSL,
            log,
        ]
    ),
    ("PHIGuardTOTPQRCode", ["PHIGuardTOTP", "CQRencode"]),
    // Encrypted, verified backups (create, verify, restore) of an SQLite file or a PostgreSQL database.
    (
        "PHIGuardBackup",
        [
            "PHIGuardAudit", "PHIGuardCrypto", "PHIGuardFieldEncryption", "PHIGuardKeys", "PHIGuardPostgres",
            "PHIGuardRecords", "PHIGuardSQLite", sqlite, nioCore, postgres, log,
        ]
    ),
    // The Hummingbird adapter: session cookies, CSRF, problem responses, rate limits, security headers.
    (
        "PHIGuardHummingbird",
        [
            "PHIGuardAccess", "PHIGuardAuthentication", "PHIGuardCrypto", "PHIGuardErrors", "PHIGuardRateLimit",
            "PHIGuardPasswords", "PHIGuardRecords", hummingbird, httpTypes, log, nioCore,
        ]
    ),
    // Conformance suites an app runs against its own store implementations, and test doubles.
    (
        "PHIGuardTesting",
        [
            "PHIGuardAccess", "PHIGuardAudit", "PHIGuardAuthentication", "PHIGuardRateLimit", "PHIGuardRecords",
            "PHIGuardTOTP",
        ]
    ),
    // The attack regression suite an app runs against its own integration (no test framework inside).
    ("PHIGuardAttackSuite", [sqlite, nioCore, postgres]),
]

/// One test target per module, with what its files import besides the module itself. Fixtures
/// (test vectors) are in Tests/Fixtures, read through PHIGuardTestSupport; Tests/Fixtures/SOURCES.md
/// names where each came from.
let testedModules: [(module: String, dependencies: [Target.Dependency])] = [
    ("PHIGuardCrypto", ["PHIGuardTestSupport"]),
    ("PHIGuardPasswords", ["PHIGuardTestSupport"]),
    ("PHIGuardTOTP", ["PHIGuardRateLimit", "PHIGuardTestSupport", "PHIGuardTesting"]),
    ("PHIGuardTOTPQRCode", ["PHIGuardTOTP"]),
    ("PHIGuardFieldEncryption", ["PHIGuardCrypto", "PHIGuardTestSupport"]),
    ("PHIGuardAccess", ["PHIGuardTestSupport"]),
    (
        "PHIGuardAudit",
        [
            "PHIGuardCrypto", "PHIGuardTestSupport", .product(name: "MetricsTestKit", package: "swift-metrics"),
            nioCore, nioPosix, .product(name: "NIOHTTP1", package: "swift-nio"),
        ]
    ),
    ("PHIGuardKeys", ["PHIGuardAudit", "PHIGuardFieldEncryption", "PHIGuardPasswords", "PHIGuardTestSupport"]),
    (
        "PHIGuardErrors",
        [
            "PHIGuardPasswords", "PHIGuardRateLimit", "PHIGuardTOTP", "PHIGuardFieldEncryption", "PHIGuardAudit",
            "PHIGuardAuthentication", "PHIGuardAccess", "PHIGuardRecords", log,
            .product(name: "InMemoryLogging", package: "swift-log"),
        ]
    ),
    ("PHIGuardRateLimit", ["PHIGuardTesting"]),
    (
        "PHIGuardRecords",
        [
            "PHIGuardAccess", "PHIGuardAudit", "PHIGuardAuthentication", "PHIGuardFieldEncryption",
            "PHIGuardPasswords", "PHIGuardTOTP", "PHIGuardTesting", "PHIGuardTestSupport",
        ]
    ),
    (
        "PHIGuardAuthentication",
        [
            "PHIGuardAccess", "PHIGuardAudit", "PHIGuardPasswords", "PHIGuardRateLimit", "PHIGuardTOTP",
            "PHIGuardTesting", "PHIGuardTestSupport", metrics,
            .product(name: "MetricsTestKit", package: "swift-metrics"),
        ]
    ),
    (
        "PHIGuardSQLite",
        [
            "PHIGuardAccess", "PHIGuardAudit", "PHIGuardAuthentication", "PHIGuardFieldEncryption", "PHIGuardRateLimit",
            "PHIGuardRecords", "PHIGuardCrypto", "PHIGuardTesting", "PHIGuardTestSupport", "PHIGuardPasswords",
            "PHIGuardTOTP", sqlite, nioCore, "PHIGuardKeys", "PHIGuardBackup",
        ]
    ),
    (
        "PHIGuardPostgres",
        [
            "PHIGuardAccess", "PHIGuardAudit", "PHIGuardAuthentication", "PHIGuardRateLimit", "PHIGuardCrypto",
            "PHIGuardTesting", "PHIGuardTestSupport", "PHIGuardFieldEncryption", "PHIGuardPasswords", "PHIGuardTOTP",
            "PHIGuardRecords", "PHIGuardErrors", postgres, log,
        ]
    ),
    (
        "PHIGuardBackup",
        [
            "PHIGuardAccess", "PHIGuardAudit", "PHIGuardFieldEncryption", "PHIGuardKeys", "PHIGuardPostgres",
            "PHIGuardRecords", "PHIGuardSQLite", sqlite, nioCore, postgres, log,
        ]
    ),
    (
        "PHIGuardHummingbird",
        [
            "PHIGuardAccess", "PHIGuardAudit", "PHIGuardAuthentication", "PHIGuardFieldEncryption",
            "PHIGuardPasswords", "PHIGuardRateLimit", "PHIGuardRecords", "PHIGuardSQLite", "PHIGuardTOTP", hummingbird,
            httpTypes, .product(name: "HummingbirdTesting", package: "hummingbird"),
        ]
    ),
    (
        "PHIGuardAttackSuite",
        [
            "PHIGuardAccess", "PHIGuardAudit", "PHIGuardAuthentication", "PHIGuardErrors", "PHIGuardFieldEncryption",
            "PHIGuardPasswords", "PHIGuardRateLimit", "PHIGuardRecords", "PHIGuardSQLite", "PHIGuardTOTP",
            "PHIGuardTestSupport", log,
        ]
    ),
]
let testTargets: [Target] =
    [
        .target(name: "PHIGuardTestSupport", path: "Tests/PHIGuardTestSupport", swiftSettings: strictSettings)
    ]
    + testedModules.map { tested in
        .testTarget(
            name: tested.module + "Tests",
            dependencies: [.target(name: tested.module)] + tested.dependencies,
            swiftSettings: strictSettings
        )
    }
    + [
        // The portal's service layer on a real SQLite file.
        .testTarget(
            name: "PortalCoreTests",
            dependencies: [
                "PortalCore", "PHIGuardAccess", "PHIGuardAudit", "PHIGuardErrors", "PHIGuardRecords", "PHIGuardSQLite",
                "PHIGuardTestSupport", "PHIGuardAttackSuite", "PHIGuardCrypto", "PHIGuardTOTP", log,
                "PHIGuardAuthentication", "PHIGuardPasswords", "PHIGuardFieldEncryption", "PHIGuardKeys",
                "PHIGuardPostgres", "PortalAttacks",
                postgres,
            ],
            swiftSettings: strictSettings
        ),
        // The web portal in process (HummingbirdTesting) on a real SQLite file.
        .testTarget(
            name: "WebPortalAppTests",
            dependencies: [
                "WebPortalApp", "PortalCore", "PHIGuardAudit", "PHIGuardAuthentication", "PHIGuardCrypto",
                "PHIGuardSQLite", "PHIGuardTestSupport", "PHIGuardTOTP", hummingbird, httpTypes,
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: strictSettings
        ),
        // The portal's JSON API in process (HummingbirdTesting), every response validated against openapi.yaml.
        .testTarget(
            name: "PortalAPITests",
            dependencies: [
                "PortalAPI", "PortalCore", "PHIGuardAudit", "PHIGuardHummingbird", "PHIGuardSQLite",
                "PHIGuardTestSupport", "PHIGuardTOTP", hummingbird, httpTypes,
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: strictSettings
        ),
        // Runs the built `phiguard` and example binaries end to end.
        .testTarget(
            name: "PHIGuardCLITests",
            dependencies: ["PHIGuardCLI", "PasswordDemo", "PatientPortal", "PHIGuardTestSupport", "PHIGuardTOTP"],
            swiftSettings: strictSettings
        ),
    ]

let package = Package(
    name: "PHIGuard",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "PHIGuard", targets: ["PHIGuard"])
    ]
        + (capabilities + addOns).map { .library(name: $0.name, targets: [$0.name]) }
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
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
    ],
    targets: [
        // C libraries from Debian packages, seen through module maps only; never in public API.
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "CArgon2", pkgConfig: "libargon2", providers: [.apt(["libargon2-dev"])]),
        .systemLibrary(name: "CQRencode", pkgConfig: "libqrencode", providers: [.apt(["libqrencode-dev"])]),

        // Secret material in sodium_malloc memory; internal to the package (not a product).
        .target(name: "PHIGuardCrypto", dependencies: ["CSodium"], swiftSettings: strictSettings),

        // The umbrella module re-exports every capability (not the add-ons: each is a product of its own).
        .target(
            name: "PHIGuard", dependencies: capabilities.map { .target(name: $0.name) }, swiftSettings: strictSettings),

        // The admin CLI `phiguard`, for operators and CI pipelines. (Its folder is not `Sources/phiguard`:
        // on a case-insensitive file system that would be the umbrella's `Sources/PHIGuard`.)
        .executableTarget(
            name: "PHIGuardCLI",
            dependencies: [
                "PHIGuardAccess", "PHIGuardAudit", "PHIGuardCrypto", "PHIGuardFieldEncryption", "PHIGuardPasswords",
                "PHIGuardPostgres", "PHIGuardRecords", "PHIGuardKeys", yams,
                "PHIGuardBackup",
                "PHIGuardSQLite", "PHIGuardTOTP", "PHIGuardTOTPQRCode", argumentParser, postgres,
            ],
            swiftSettings: strictSettings
        ),

        // Examples are executable targets, not products (swift-argument-parser's pattern).
        .executableTarget(
            name: "PasswordDemo",
            dependencies: ["PHIGuardPasswords"],
            path: "Examples/PasswordDemo",
            swiftSettings: strictSettings
        ),
        // The patient portal's service layer (a library a CLI, a web front end and an attack suite import).
        .target(
            name: "PortalCore",
            dependencies: [
                "PHIGuardAccess", "PHIGuardAudit", "PHIGuardAuthentication", "PHIGuardCrypto", "PHIGuardErrors",
                "PHIGuardFieldEncryption", "PHIGuardKeys", "PHIGuardPasswords", "PHIGuardRateLimit",
                "PHIGuardRecords", "PHIGuardSQLite", "PHIGuardTOTP", log, "PHIGuardPostgres", postgres,
            ],
            path: "Examples/PortalCore",
            swiftSettings: strictSettings
        ),
        // The portal as the attack suite's target (PortalCoreTests and `PatientPortal attack-suite` run it).
        .target(
            name: "PortalAttacks",
            dependencies: [
                "PortalCore", "PHIGuardAttackSuite", "PHIGuardAuthentication", "PHIGuardCrypto",
                "PHIGuardErrors", "PHIGuardPasswords", "PHIGuardRecords", "PHIGuardTOTP", log, postgres,
            ],
            path: "Examples/PortalAttacks",
            swiftSettings: strictSettings
        ),
        // A patient-portal CLI over PortalCore: sign-in, encrypted charts, audited reads (`make demo`).
        .executableTarget(
            name: "PatientPortal",
            dependencies: [
                "PortalCore", "PHIGuardAccess", "PHIGuardAudit", "PHIGuardAuthentication", "PHIGuardCrypto",
                "PHIGuardErrors", "PHIGuardKeys", "PHIGuardRecords", "PHIGuardTOTP", "PHIGuardTOTPQRCode",
                "PHIGuardPasswords", argumentParser, log, "PortalAttacks", "PHIGuardAttackSuite",
            ],
            path: "Examples/PatientPortal",
            exclude: ["README.md"],
            swiftSettings: strictSettings
        ),
        // The smallest Hummingbird server over PHIGuard: SQLite, sign-in + TOTP, a guarded chart route.
        .executableTarget(
            name: "HummingbirdQuickstart",
            dependencies: [
                "PHIGuardAccess", "PHIGuardAudit", "PHIGuardAuthentication", "PHIGuardFieldEncryption",
                "PHIGuardHummingbird", "PHIGuardPasswords", "PHIGuardRateLimit", "PHIGuardRecords", "PHIGuardSQLite",
                "PHIGuardTOTP", hummingbird,
            ],
            path: "Examples/HummingbirdQuickstart",
            swiftSettings: strictSettings
        ),
        // The patient portal as a server-rendered web app over PortalCore (a library: tests run it in process).
        .target(
            name: "WebPortalApp",
            dependencies: [
                "PortalCore", "PHIGuardAccess", "PHIGuardAuthentication", "PHIGuardCrypto", "PHIGuardErrors",
                "PHIGuardHummingbird", "PHIGuardPasswords", "PHIGuardRecords", "PHIGuardTOTP", "PHIGuardTOTPQRCode",
                "PortalAPI",
                hummingbird,
                httpTypes,
                log,
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            path: "Examples/WebPortalApp",
            swiftSettings: strictSettings
        ),
        // `make web`: WebPortalApp on 127.0.0.1 over a seeded demo hospital.
        .executableTarget(
            name: "WebPortal",
            dependencies: ["PortalCore", "WebPortalApp", argumentParser, hummingbird, log],
            path: "Examples/WebPortal",
            swiftSettings: strictSettings
        ),
        // The portal's JSON API over PortalCore and PHIGuardHummingbird (documented in openapi.yaml).
        .target(
            name: "PortalAPI",
            dependencies: [
                "PortalCore", "PHIGuardAccess", "PHIGuardAudit", "PHIGuardAuthentication",
                "PHIGuardErrors", "PHIGuardHummingbird", "PHIGuardPasswords", "PHIGuardRecords", hummingbird, httpTypes,
            ],
            path: "Examples/PortalAPI",
            exclude: ["openapi.yaml"],
            swiftSettings: strictSettings
        ),
    ]
        + (capabilities + addOns).map {
            .target(name: $0.name, dependencies: $0.dependencies, swiftSettings: strictSettings)
        }
        + testTargets
)
