// swift-tools-version:6.0
// libFuzzer targets for PHIGuard's parsers (issue #15). Built only by `Fuzz/run.sh` (`make fuzz`) with
// `-sanitize=fuzzer,address`, so the main package's builds never see them. Each target feeds raw bytes
// to one public parser: a thrown, typed error is the expected answer to garbage; a crash, a sanitizer
// report or a broken round-trip property is a finding.
import PackageDescription

let targets = [
    ("FuzzPHCString", "PHIGuardPasswords"), ("FuzzBase32", "PHIGuardTOTP"), ("FuzzOTPAuthURI", "PHIGuardTOTP"),
    ("FuzzFieldEnvelope", "PHIGuardFieldEncryption"), ("FuzzPolicyYAML", "PHIGuardAccess"),
    ("FuzzSessionToken", "PHIGuardAuthentication"), ("FuzzAuditRecord", "PHIGuardAudit"),
    ("FuzzLoginName", "PHIGuardAuthentication"),
]

let package = Package(
    name: "PHIGuardFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "PHIGuard", path: "..")],
    targets: [.target(name: "FuzzDriver", swiftSettings: [.swiftLanguageMode(.v6)])]
        + targets.map { name, product in
            .executableTarget(
                name: name, dependencies: ["FuzzDriver", .product(name: product, package: "PHIGuard")],
                swiftSettings: [.swiftLanguageMode(.v6)])
        }
)
