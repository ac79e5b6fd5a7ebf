import PHIGuardAttackSuite
import Testing

@Suite("Attack suite against the complete portal (PortalCore on a real SQLite file)", .serialized)
struct PortalAttackSuiteTests {
    /// The scenarios that do not apply to the portal (none: it has registration with TOTP, which the
    /// suite passes through `secondFactorCode(forRegistered:)`, and password recovery). A scenario
    /// that silently stops applying changes this set and fails the test.
    static let expectedNotApplicable: Set<String> = []

    @Test("every applicable attack is blocked; exactly the expected ones are not applicable")
    func everyAttackBlocked() async throws {
        let target = try await PortalAttackTarget()
        let report = await AttackSuite.run(against: target)
        await target.close()
        print(report.table)
        #expect(report.results.map(\.id) == AttackSuite.all.map(\.id))
        var notApplicable: Set<String> = []
        for result in report.results {
            if case .notApplicable = result.verdict {
                notApplicable.insert(result.id)
                continue
            }
            #expect(result.verdict == .blocked, "\(result.id): \(result.verdict)\n\(result.attempts)")
            #expect(!result.attempts.isEmpty, "\(result.id) tried nothing")
        }
        #expect(notApplicable == Self.expectedNotApplicable)
    }

    @Test("attack 10 fails against the flawed export that writes where the path says")
    func flawedExportCaught() async throws {
        let target = try await PortalAttackTarget(flawedExport: true)
        let scenario = try #require(AttackSuite.scenario(id: "attack-10-export-path-traversal"))
        let result = await scenario.run(against: target)
        await target.close()
        guard case .succeeded(let evidence) = result.verdict else {
            Issue.record("expected the scenario to succeed against the flawed export: \(result.verdict)")
            return
        }
        // The escapes it must have seen: a relative ../ path, an absolute path, the planted link, the NUL name.
        for escape in ["escaped-relative.json", "escaped-absolute.json", "escaped-link.json", "\\0"] {
            #expect(evidence.contains { $0.contains(escape) }, "no breach for \(escape): \(evidence)")
        }
    }
}
