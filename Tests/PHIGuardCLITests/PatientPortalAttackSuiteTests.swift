import Foundation
import PHIGuardTestSupport
import Testing

/// The built `PatientPortal attack-suite` end to end: the shipped PHIGuardAttackSuite against a
/// sandbox portal, its JSON report and its exit status (what `make demo` relies on).
@Suite("PatientPortal attack-suite, end to end", .serialized)
struct PatientPortalAttackSuiteTests {
    /// The JSON report's results: (id, verdict key, attempt count), verdict key one of `blocked`,
    /// `succeeded`, `notApplicable`, `inconclusive` (`AttackVerdict`'s synthesized coding).
    static func results(at path: String) throws -> [(id: String, verdict: String, attempts: Int)] {
        let object = try JSONSerialization.jsonObject(with: try Data(contentsOf: URL(fileURLWithPath: path)))
        let results = try #require((object as? [String: Any])?["results"] as? [[String: Any]])
        return try results.map { result in
            let verdict = try #require((result["verdict"] as? [String: Any])?.keys.first)
            return (
                try #require(result["id"] as? String), verdict,
                try #require((result["attempts"] as? [Any])?.count)
            )
        }
    }

    /// A fresh folder for the JSON report.
    static func folder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "portal-attack-suite-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    /// The sandbox folder the command named in its output.
    static func sandbox(in stdout: String) -> String? {
        stdout.firstMatch(of: /Sandbox portal \(separate from any portal database\): (\S+)\n/).map { String($0.1) }
    }

    @Test("all 20 attacks run against the sandbox portal and are blocked; exit 0; the sandbox is deleted")
    func everyAttackBlocked() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let json = folder.appendingPathComponent("attacks.json").path
        let run = try BuiltProduct.run("PatientPortal", ["attack-suite", "--json", json])
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        let results = try Self.results(at: json)
        #expect(results.count == 20)
        #expect(Set(results.map(\.id)).count == 20)
        for result in results {
            #expect(result.verdict == "blocked", "\(result.id): \(result.verdict)")
            #expect(result.attempts > 0, "\(result.id) tried nothing")
            #expect(run.stdout.contains(result.id), "no progress line for \(result.id)")
        }
        #expect(run.stdout.contains("test clock"))
        #expect(run.stdout.contains("20 attacks: 20 blocked, 0 succeeded"), "\(run.stdout)")
        let sandbox = try #require(Self.sandbox(in: run.stdout), "\(run.stdout)")
        #expect(!FileManager.default.fileExists(atPath: sandbox), "the sandbox \(sandbox) was left behind")
    }

    @Test("an attack that is not blocked (the DEMO/TEST ONLY flawed export) makes the exit status 2")
    func notBlockedFails() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let json = folder.appendingPathComponent("attacks.json").path
        let run = try BuiltProduct.run(
            "PatientPortal",
            ["attack-suite", "--demo-flawed-export", "--scenario", "attack-10-export-path-traversal", "--json", json])
        #expect(run.status == 2, "\(run.stdout)\n\(run.stderr)")
        let results = try Self.results(at: json)
        #expect(results.map(\.id) == ["attack-10-export-path-traversal"])
        #expect(results.first?.verdict == "succeeded")
        #expect(run.stdout.contains("NOT BLOCKED: attack-10-export-path-traversal"), "\(run.stdout)")
        #expect(run.stdout.contains("GOT THROUGH"), "the breach is not shown: \(run.stdout)")

        // The same scenario against the real export: blocked, exit 0.
        let real = try BuiltProduct.run(
            "PatientPortal", ["attack-suite", "--scenario", "attack-10-export-path-traversal"])
        #expect(real.status == 0, "\(real.stdout)\n\(real.stderr)")
    }

    @Test("the flawed-export flag is hidden from help; an unknown scenario is a usage error (64)")
    func helpAndUsage() throws {
        let help = try BuiltProduct.run("PatientPortal", ["attack-suite", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("--scenario"))
        #expect(!help.stdout.contains("flawed"), "\(help.stdout)")
        let unknown = try BuiltProduct.run("PatientPortal", ["attack-suite", "--scenario", "attack-99-nothing"])
        #expect(unknown.status == 64, "\(unknown.stderr)")
        #expect(unknown.stderr.contains("Unknown scenario attack-99-nothing"))
    }
}
