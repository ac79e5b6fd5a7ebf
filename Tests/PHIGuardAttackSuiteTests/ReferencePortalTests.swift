import Foundation
import PHIGuardAttackSuite
import Testing

/// Runs `body` with a fresh reference portal in a fresh directory, closing and deleting it afterwards.
func withPortal(flaws: Set<Flaw> = [], _ body: (ReferencePortal) async throws -> Void) async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "attack-suite-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let portal = try await ReferencePortal(directory: directory, flaws: flaws)
    do {
        try await body(portal)
    } catch {
        try? await portal.close()
        throw error
    }
    try await portal.close()
}

@Suite("Attack suite: the reference portal on SQLite")
struct ReferencePortalTests {
    /// The reference portal has no export (attack 10 runs against the complete portal in
    /// PortalCoreTests, with its flawed variant).
    static let notApplicable: Set<String> = ["attack-10-export-path-traversal"]

    @Test("every attack of the suite but the export one is applicable and blocked")
    func everyAttackBlocked() async throws {
        try await withPortal { portal in
            let report = await AttackSuite.run(against: portal)
            print(report.table)
            for attempt in report.result(id: "attack-06-oracles")?.attempts ?? [] {
                print("  06: \(attempt.tried) → \(attempt.got)")
            }
            #expect(report.results.map(\.id) == AttackSuite.all.map(\.id))
            for result in report.results {
                if Self.notApplicable.contains(result.id) {
                    #expect(result.verdict == .notApplicable(reason: "needs export"), "\(result.id)")
                    continue
                }
                #expect(result.verdict == .blocked, "\(result.id): \(result.verdict)\n\(result.attempts)")
                #expect(!result.attempts.isEmpty, "\(result.id) tried nothing")
            }
            // The fixture's extra record (chart-3) is tried by IDOR too, in every spelling.
            let idor = report.result(id: "attack-07-idor")?.attempts ?? []
            #expect(idor.contains { $0.tried == "patient: read another patient's chart as \"chart-3\"" })
            #expect(idor.filter { $0.tried.hasPrefix("patient: read another patient's chart as ") }.count > 4)
            #expect(idor.contains { $0.tried == "audit rows for the refused read of chart chart-3" && !$0.breached })
            // The JSON report round-trips.
            let decoded = try JSONDecoder().decode(AttackReport.self, from: try report.json())
            #expect(decoded == report)
            let blocked = AttackSuite.all.count - Self.notApplicable.count
            #expect(report.table.contains("\(AttackSuite.all.count) attacks: \(blocked) blocked, 0 succeeded"))
        }
    }

    /// Each flaw of the vulnerable portal, and the scenarios that must then report `succeeded`.
    static let mutations: [(Flaw, [String])] = [
        (
            .anySessionState,
            [
                "attack-01-registration-bypass", "attack-02-recovery-session-phi", "attack-03-mfa-pending-phi",
                "attack-04-registration-session-verbs",
            ]
        ),
        (.trustClientPatientID, ["attack-05-client-chosen-patient-id"]),
        (.skipAudit, ["attack-07-idor"]),
        (.fieldInClear, ["attack-16-data-at-rest"]),
        (.distinctMissingVsForbidden, ["attack-07-idor"]),
        (.leakErrors, ["attack-20-error-leakage"]),
        (.noWitness, ["attack-17-audit-tampering"]),
        (.sqlInSearch, ["attack-09-search-injection"]),
        (.sqlInListParameters, ["attack-09-search-injection"]),
    ]

    @Test("the suite can fail: each flaw of the vulnerable portal makes its scenarios succeed", arguments: mutations)
    func vulnerablePortal(_ flaw: Flaw, _ ids: [String]) async throws {
        try await withPortal(flaws: [flaw]) { portal in
            let scenarios = ids.compactMap(AttackSuite.scenario(id:))
            #expect(scenarios.count == ids.count)
            // Sign-ins and reads first, so the audit log has rows to tamper with (17).
            let warmUp = AttackSuite.scenario(id: "attack-07-idor").map { [$0] } ?? []
            let report = await AttackSuite.run(against: portal, scenarios: warmUp + scenarios)
            for id in ids {
                let verdict = report.result(id: id)?.verdict
                #expect(verdict?.isSucceeded == true, "\(flaw) → \(id): \(String(describing: verdict))")
            }
        }
    }

    @Test("a target without a capability gets notApplicable, never blocked")
    func missingCapability() async throws {
        try await withPortal { portal in
            let limited = LimitedTarget(inner: portal, capabilities: [])
            let report = await AttackSuite.run(
                against: limited,
                scenarios: ["attack-01-registration-bypass", "attack-15-ciphertext-tampering"].compactMap(
                    AttackSuite.scenario(id:)))
            for result in report.results {
                guard case .notApplicable = result.verdict else {
                    Issue.record("\(result.id): \(result.verdict)")
                    continue
                }
                #expect(result.attempts.isEmpty)
            }
        }
    }
}

/// The reference portal with fewer capabilities (and no storage).
struct LimitedTarget: AttackTarget {
    let inner: ReferencePortal
    let capabilities: Set<AttackCapability>
    var fixture: AttackFixture { inner.fixture }
    func signIn(loginName: String, password: String, clientAddress: String, presenting presented: AttackSession?)
        async throws -> SignInOutcome
    {
        try await inner.signIn(
            loginName: loginName, password: password, clientAddress: clientAddress, presenting: presented)
    }
    func sendSecondFactorCode(_ code: String, session: AttackSession, clientAddress: String) async throws
        -> SignInOutcome
    { try await inner.sendSecondFactorCode(code, session: session, clientAddress: clientAddress) }
    func currentSecondFactorCode(for account: AttackAccount) async throws -> String {
        try await inner.currentSecondFactorCode(for: account)
    }
    func perform(_ operation: RecordOperation, as session: AttackSession) async throws -> AttackResponse {
        try await inner.perform(operation, as: session)
    }
    func signOut(_ session: AttackSession) async throws { try await inner.signOut(session) }
}
