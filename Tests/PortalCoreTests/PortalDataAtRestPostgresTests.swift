import Foundation
import PHIGuardAttackSuite
import PortalAttacks
import Testing

/// Attack 16 on PostgreSQL: the scan of the server's relation files and WAL
/// (`PostgresAttackStorage` with the data directory `scripts/with-test-postgres.sh` exports) is
/// blocked for the portal as it is, and catches a seeded value once something writes it in clear.
@Suite(
    "Attack 16 on PostgreSQL scans the server's files at rest", .serialized,
    .enabled(
        if: PortalTestDatabase.enabled && ProcessInfo.processInfo.environment["PHIGUARD_TEST_POSTGRES_DATA"] != nil))
struct PortalDataAtRestPostgresTests {
    /// The portal target with a fixture naming one value of its own (a name no other test seeds):
    /// the WAL is the whole server's, so a value written in clear here must not be one another
    /// test's scan looks for. Only what attack 16 uses is forwarded (fixture and storage).
    struct CarelessApp: AttackTarget {
        let base: PortalAttackTarget
        let fixture: AttackFixture
        var capabilities: Set<AttackCapability> { [.storage] }
        var storage: (any AttackStorage)? { base.attackStorage }

        func signIn(loginName: String, password: String, clientAddress: String, presenting presented: AttackSession?)
            async throws -> SignInOutcome
        {
            try await base.signIn(
                loginName: loginName, password: password, clientAddress: clientAddress, presenting: presented)
        }
        func sendSecondFactorCode(_ code: String, session: AttackSession, clientAddress: String) async throws
            -> SignInOutcome
        {
            try await base.sendSecondFactorCode(code, session: session, clientAddress: clientAddress)
        }
        func currentSecondFactorCode(for account: AttackAccount) async throws -> String {
            try await base.currentSecondFactorCode(for: account)
        }
        func perform(_ operation: RecordOperation, as session: AttackSession) async throws -> AttackResponse {
            try await base.perform(operation, as: session)
        }
        func signOut(_ session: AttackSession) async throws { try await base.signOut(session) }
    }

    @Test("blocked for the portal as it is; a seeded name written in clear into a table is found (succeeded)")
    func scanCatchesPlaintext() async throws {
        let scenario = try #require(AttackSuite.scenario(id: "attack-16-data-at-rest"))
        let target = try await PortalAttackTarget.forTests(patientCount: 4, onPostgres: true)
        let storage = try #require(target.attackStorage as? PostgresAttackStorage)
        let clean = await AttackSuite.run(against: target, scenarios: [scenario]).results
        let verdicts: [AttackVerdict] = clean.map { $0.verdict }
        #expect(verdicts == [.blocked], "\(verdicts)")
        // The scan covered this database's relation files and the WAL.
        let files = storage.filesAtRest
        #expect(files.contains { $0.contains("/pg_wal/") })
        #expect(files.contains { $0.contains("/base/") })

        // A careless app column holding a seeded name in clear.
        let name = "Quillon Marrowby-" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
        var fixture = target.fixture
        fixture.plaintextSecrets = [name]
        let careless = CarelessApp(base: target, fixture: fixture)
        let before = await AttackSuite.run(against: careless, scenarios: [scenario]).results
        #expect(before.first?.verdict == .blocked)  // not written yet: nothing to find
        _ = try await storage.execute("CREATE TABLE careless_export (body TEXT)", [])
        _ = try await storage.execute("INSERT INTO careless_export (body) VALUES ($1)", [.text(name)])
        let leaked = await AttackSuite.run(against: careless, scenarios: [scenario]).results
        await target.closeForTests()
        let verdict = try #require(leaked.first?.verdict)
        #expect(verdict.isSucceeded, "\(verdict)")
        guard case .succeeded(let evidence) = verdict else { return }
        #expect(evidence.contains { $0.contains(name) }, "\(evidence)")
    }
}
