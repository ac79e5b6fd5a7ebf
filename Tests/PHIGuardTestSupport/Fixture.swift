public import Foundation

/// Locates the test fixtures in `Tests/Fixtures` (see its SOURCES.md for provenance).
public enum Fixture {
    /// `Tests/Fixtures`, found relative to this source file so it works from any working directory.
    public static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // PHIGuardTestSupport
        .deletingLastPathComponent()  // Tests
        .appendingPathComponent("Fixtures")

    /// The URL of `relativePath` inside `Tests/Fixtures`.
    public static func url(_ relativePath: String) -> URL {
        directory.appendingPathComponent(relativePath)
    }

    /// Decodes the JSON fixture at `relativePath`.
    public static func decode<T: Decodable>(_ type: T.Type, from relativePath: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(contentsOf: url(relativePath)))
    }

    /// The repository root (for tests that run scripts or the built binaries).
    public static let repositoryRoot: URL = directory.deletingLastPathComponent().deletingLastPathComponent()
}

/// Hex helpers for vector files.
extension Array where Element == UInt8 {
    /// Decodes a hex string (`"0a1B"`); traps on malformed hex, which only a broken fixture has.
    public init(hex: String) {
        let digits = Array(hex.utf8)
        precondition(digits.count % 2 == 0, "odd-length hex in fixture")
        self = stride(from: 0, to: digits.count, by: 2).map { index in
            UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16)!
        }
    }

    /// Lower-case hex.
    public var hex: String { map { String(format: "%02x", $0) }.joined() }
}
