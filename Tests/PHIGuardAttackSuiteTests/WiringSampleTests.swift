import PHIGuardAttackSuite
import PHIGuardAuthentication
import Testing

// The sample of the article "Run the attacks against your app" (PHIGuardAttackSuite.docc), compiled
// and run here. `ReferencePortal` plays the app's service layer; the rest is the article's code.

struct PortalAttackTarget: AttackTarget {
    let app: ReferencePortal
    let capabilities: Set<AttackCapability> = [.storage, .auditVerification]
    var fixture: AttackFixture { app.fixture }
    var storage: (any AttackStorage)? { app.storage }

    func signIn(loginName: String, password: String, clientAddress: String, presenting: AttackSession?)
        async throws -> SignInOutcome
    {
        do {
            let previous = try await app.flow.resume(presenting?.token)
            switch try await app.flow.signIn(
                loginName: loginName, password: password, clientAddress: clientAddress, replacing: previous)
            {
            case .authenticated(let session): return .authenticated(AttackSession(token: session.token.cookieValue))
            case .awaitingSecondFactor(let pending):
                return .secondFactorRequired(AttackSession(token: pending.token.cookieValue))
            }
        } catch {
            return .refused(AttackRefusal(status: 401, message: "The credentials could not be verified."))
        }
    }
    func sendSecondFactorCode(_ code: String, session: AttackSession, clientAddress: String) async throws
        -> SignInOutcome
    { try await app.sendSecondFactorCode(code, session: session, clientAddress: clientAddress) }
    func currentSecondFactorCode(for account: AttackAccount) async throws -> String {
        try await app.currentSecondFactorCode(for: account)
    }
    func perform(_ operation: RecordOperation, as session: AttackSession) async throws -> AttackResponse {
        try await app.perform(operation, as: session)
    }
    func signOut(_ session: AttackSession) async throws { try await app.signOut(session) }
    func verifyAuditLog() async throws -> Bool { try await app.verifyAuditLog() }
}

@Test("the article's wiring: every applicable attack blocked, the others not applicable")
func portalBlocksTheAttacks() async throws {
    try await withPortal { app in
        let report = await AttackSuite.run(against: PortalAttackTarget(app: app))
        #expect(report.failures.isEmpty, "\(report.table)")
        #expect(report.results.contains { $0.verdict.isBlocked })
    }
}
