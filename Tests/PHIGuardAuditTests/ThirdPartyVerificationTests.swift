import Foundation
import PHIGuardCrypto
import PHIGuardTestSupport
import Testing

@testable import PHIGuardAudit

/// A log written by PHIGuard verifies with `Tests/Fixtures/audit/canonical_v1.py`, a separate
/// implementation of the documented encoding (Python standard library only), and a tampered copy does not.
@Suite("Third-party verification from the documented format", .enabled(if: InteropPython.shouldRun))
struct ThirdPartyVerificationTests {
    /// Runs the reference script's `verify` mode on `log` with the key file `key`.
    static func script(log: String, key: String) -> String {
        let reference = Fixture.url("audit/canonical_v1.py").path
        return """
            import runpy, sys
            sys.argv = ["canonical_v1.py", "verify", \(String(reflecting: log)), \(String(reflecting: key))]
            runpy.run_path(\(String(reflecting: reference)), run_name="__main__")
            """
    }

    @Test("The Python reference verifier accepts a PHIGuard log and rejects a tampered one")
    func pythonVerifier() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("audit-py-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("audit.jsonl").path
        let keyPath = directory.appendingPathComponent("chain.key").path
        var keyBytes = try Sodium.randomBytes(count: 32)
        try Base64.encode(keyBytes, variant: .standard).write(toFile: keyPath, atomically: true, encoding: .utf8)
        let log = try await AuditLog(
            sink: try JSONLinesAuditSink(path: path), chainKey: try AuditChainKey(bytes: &keyBytes),
            signingKey: try AuditSigningKey.generate())
        let events = try AuditFixtures.everyKind() + [try AuditFixtures.fullEvent(), try AuditFixtures.largestEvent()]
        for event in events { try await log.append(event) }
        try await log.close()

        let script = Self.script(log: path, key: keyPath)
        let intact = try InteropPython.run(script: script)
        #expect(String(decoding: intact, as: UTF8.self).contains("intact"))

        var lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        lines[3] = lines[3].replacingOccurrences(of: "user:1", with: "user:2")
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: false, encoding: .utf8)
        #expect(throws: InteropPython.Failure.self) {
            _ = try InteropPython.run(script: script)
        }
    }
}
