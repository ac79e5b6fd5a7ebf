import Foundation
import PHIGuardAttackSuite
import PortalAttacks
import Testing

@Suite("Attack suite against the complete portal (PortalCore on a real SQLite file)", .serialized)
struct PortalAttackSuiteTests {
    /// The scenarios that do not apply to the portal (none: it has registration with TOTP, which the
    /// suite passes through `secondFactorCode(forRegistered:)`, and password recovery). A scenario
    /// that silently stops applying changes this set and fails the test.
    static let expectedNotApplicable: Set<String> = []

    @Test("every applicable attack is blocked; exactly the expected ones are not applicable")
    func everyAttackBlocked() async throws {
        let target = try await PortalAttackTarget.forTests()
        let report = await AttackSuite.run(against: target)
        await target.closeForTests()
        print(report.table)
        Self.expectBlocked(report, notApplicable: Self.expectedNotApplicable)
    }

    /// Every scenario ran, each applicable one was blocked after trying something, and exactly
    /// `expected` were not applicable.
    static func expectBlocked(_ report: AttackReport, notApplicable expected: Set<String>) {
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
        #expect(notApplicable == expected)
    }

    @Test("attack 10 fails against the flawed export that writes where the path says")
    func flawedExportCaught() async throws {
        let target = try await PortalAttackTarget.forTests(flawedExport: true)
        let scenario = try #require(AttackSuite.scenario(id: "attack-10-export-path-traversal"))
        let result = await scenario.run(against: target)
        await target.closeForTests()
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

@Suite(
    "Attack suite against the complete portal on PostgreSQL (PostgresAttackStorage)", .serialized,
    .enabled(if: PortalTestDatabase.enabled))
struct PortalPostgresAttackSuiteTests {
    /// As on SQLite. Attack 16 scans the server's relation files and WAL when the test can read its
    /// data directory (`PHIGUARD_TEST_POSTGRES_DATA`, set by `scripts/with-test-postgres.sh`); against
    /// a server of someone else's it is not applicable (the rows are scanned instead by
    /// `PortalPostgresTests.rowsAtRest`).
    static let expectedNotApplicable =
        ProcessInfo.processInfo.environment["PHIGUARD_TEST_POSTGRES_DATA"] == nil
        ? PortalAttackSuiteTests.expectedNotApplicable.union(["attack-16-data-at-rest"])
        : PortalAttackSuiteTests.expectedNotApplicable

    /// The scenarios run one at a time, and before each the harness empties the rate-limit table:
    /// `PostgresRateLimitStore` counts on the server's clock (one clock for every instance), which the
    /// target's `ManualClock` cannot move, so the half-minute steps that refill the windows between
    /// sign-ins on SQLite never pass here. Within a scenario nothing is reset: brute force (11) and
    /// credential stuffing (12) are still throttled by the server-clock limiter itself.
    @Test("every applicable attack is blocked on PostgreSQL; exactly the expected ones are not applicable")
    func everyAttackBlocked() async throws {
        let target = try await PortalAttackTarget.forTests(onPostgres: true)
        var results: [AttackResult] = []
        for scenario in AttackSuite.all {
            _ = try await target.attackStorage.execute("DELETE FROM phiguard_rate_limits", [])
            results += await AttackSuite.run(against: target, scenarios: [scenario]).results
        }
        let report = AttackReport(results: results)
        await target.closeForTests()
        print(report.table)
        PortalAttackSuiteTests.expectBlocked(report, notApplicable: Self.expectedNotApplicable)
    }
}
