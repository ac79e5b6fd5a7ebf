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
}
