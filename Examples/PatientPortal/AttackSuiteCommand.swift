import ArgumentParser
import Foundation
import PHIGuardAttackSuite
import PortalAttacks

/// `attack-suite`: every scenario of the shipped `PHIGuardAttackSuite` against this portal's service
/// layer (`PortalCore.Portal`, through `PortalAttackTarget`), in a sandbox of its own.
///
/// The sandbox is a fresh temporary folder (its own SQLite file, keys and export folder, a small
/// seeded hospital) with a test clock the suite moves to expire sessions, grants and throttles. It
/// never touches `--database`/`--keys` of the other subcommands, and it is deleted at the end.
struct AttackSuiteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attack-suite",
        abstract:
            "Run every attack of PHIGuardAttackSuite against a sandbox portal (exit status 2 if one is not blocked).",
        discussion: """
            Creates a separate sandbox portal in a fresh temporary folder (its own SQLite file, keys, \
            export folder and 12 made-up patients, on a test clock the suite moves forward), runs the \
            attacks against its service layer, prints what each tried and its verdict, then the report \
            table, and deletes the sandbox. Exit status 2 when any attack succeeded, was inconclusive or \
            did not apply.
            """)

    /// The exit status when an attack is not blocked (distinct from a refusal's 1).
    static let notBlockedExitStatus: Int32 = 2
    /// Patients seeded in the sandbox.
    static let sandboxPatients = 12

    @Option(help: "Also write the report as JSON (AttackReport.json()) to this file.")
    var json: String?
    @Option(
        name: .customLong("scenario"),
        help: "Run only this scenario (an id such as attack-10-export-path-traversal; repeatable).")
    var scenarios: [String] = []
    @Option(help: "The access policy (YAML) of the sandbox portal.")
    var policy = PortalOptions.defaultPolicy
    /// DEMO/TEST ONLY, hidden from help: run against the flawed export (writes where the path says),
    /// so attack 10 succeeds and the exit status shows it. Never a way to run a real portal.
    @Flag(name: .customLong("demo-flawed-export"), help: .hidden)
    var demoFlawedExport = false

    func validate() throws {
        let unknown = scenarios.filter { AttackSuite.scenario(id: $0) == nil }
        if !unknown.isEmpty {
            throw ValidationError(
                "Unknown scenario \(unknown.joined(separator: ", ")); known: "
                    + AttackSuite.all.map(\.id).joined(separator: ", "))
        }
    }

    func run() async throws {
        let selected = scenarios.isEmpty ? AttackSuite.all : AttackSuite.all.filter { scenarios.contains($0.id) }
        let target = try await PortalAttackTarget(
            policyPath: policy, patientCount: Self.sandboxPatients, flawedExport: demoFlawedExport)
        print(
            """
            Sandbox portal (separate from any portal database): \(target.directory.path)
              its own SQLite file, keys and export folder, \(Self.sandboxPatients) made-up patients, \
            and a test clock the attacks move forward (sessions, grants and throttles expire); deleted at the end.
            """)
        if demoFlawedExport {
            print(
                "  DEMO/TEST ONLY: the export is the flawed one (writes where the path says); attack 10 should succeed."
            )
        }
        var results: [AttackResult] = []
        for (index, scenario) in selected.enumerated() {
            print(
                "\n[\(index + 1)/\(selected.count)] attack \(Self.number(of: scenario.id, or: index)): \(scenario.title)"
            )
            print("    running \(scenario.id) …")
            let result = await scenario.run(against: target)
            results.append(result)
            for line in Self.summary(of: result) { print("    " + line) }
        }
        await target.close()
        let report = AttackReport(results: results)
        print("\n" + report.table)
        if let json {
            try report.json().write(to: URL(fileURLWithPath: json))
            print("Report written to \(json)")
        }
        let notBlocked = report.results.filter { !$0.verdict.isBlocked }
        if !notBlocked.isEmpty {
            print("NOT BLOCKED: " + notBlocked.map(\.id).joined(separator: ", "))
            throw ExitCode(Self.notBlockedExitStatus)
        }
        print("Every attack was blocked. Sandbox deleted.")
    }

    /// The scenario's number from its id (`attack-10-…` → 10), else its place in the suite.
    static func number(of id: String, or index: Int) -> Int {
        let parts = id.split(separator: "-")
        if parts.count > 1, let number = Int(parts[1]) { return number }
        return index + 1
    }

    /// What was tried (the count and a few attempts: any that got through first, then the first and
    /// last ones), and the verdict.
    static func summary(of result: AttackResult) -> [String] {
        let attempts = result.attempts
        var shown = attempts.filter(\.breached).prefix(3).map { $0 }
        for attempt in [attempts.first, attempts.count > 2 ? attempts[attempts.count / 2] : nil, attempts.last]
        where shown.count < 3 {
            if let attempt, !shown.contains(attempt) { shown.append(attempt) }
        }
        var lines = [
            "tried \(attempts.count) attempt\(attempts.count == 1 ? "" : "s")\(shown.isEmpty ? "" : ", e.g.:")"
        ]
        for attempt in shown {
            let mark = attempt.breached ? "GOT THROUGH" : "→"
            lines.append("  - " + clip("\(attempt.tried) \(mark) \(attempt.got)"))
        }
        lines.append("verdict: " + clip(result.verdict.description, to: 300))
        return lines
    }

    /// `text` on one line, at most `limit` characters.
    static func clip(_ text: String, to limit: Int = 140) -> String {
        let flat = text.replacingOccurrences(of: "\n", with: " ")
        return flat.count <= limit ? flat : String(flat.prefix(limit - 1)) + "…"
    }
}
