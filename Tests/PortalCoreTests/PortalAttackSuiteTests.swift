import PHIGuardAttackSuite
import Testing

@Suite("Attack suite against the complete portal (PortalCore on a real SQLite file)", .serialized)
struct PortalAttackSuiteTests {
    /// The scenarios that do not apply to the portal. A scenario that silently stops applying
    /// changes this list and fails the test.
    /// - 02: the portal has no password recovery.
    /// - 05: the portal enrols TOTP at sign-up, so the new account's sign-in asks for a second
    ///   factor, and the scenario stops there (it does not send a code); the portal's sign-up takes
    ///   no patient id at all (the account gets none until staff link one).
    static let expectedNotApplicable: Set<String> = [
        "attack-02-recovery-session-phi", "attack-05-client-chosen-patient-id",
    ]

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
