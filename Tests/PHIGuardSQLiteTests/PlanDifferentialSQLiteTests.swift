import Foundation
@_spi(PolicyEvaluation) import PHIGuardAccess
import PHIGuardRecords
import PHIGuardSQLite
import PHIGuardTestSupport
import PHIGuardTesting
import Testing

/// The plan translator's exactness on a real SQLite file: random policies × random data sets, every
/// role and action; the translated SQL must select exactly the rows and fields `decide` allows.
/// Scale with `PHIGUARD_DIFFERENTIAL_POLICIES` / `PHIGUARD_DIFFERENTIAL_RECORDS` (the full run is 200 × 2000).
@Suite struct PlanDifferentialSQLiteTests {
    static let environment = ProcessInfo.processInfo.environment
    static let policies = environment["PHIGUARD_DIFFERENTIAL_POLICIES"].flatMap(Int.init) ?? 60
    static let records = environment["PHIGUARD_DIFFERENTIAL_RECORDS"].flatMap(Int.init) ?? 600

    @Test func translatedPlansSelectExactlyWhatDecideAllows() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("diff-\(UUID()).sqlite").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let dataSets = (0..<4).map { PlanDifferential.dataSet(records: Self.records, seed: 1_000 + UInt64($0)) }
        let careTeams = try (0..<dataSets.count).map { try CareTeamTable(table: "care_team_\($0)") }
        let store = try await SQLiteRecordStore.open(
            path: path, schemas: try (0..<dataSets.count).map(PlanDifferential.schema))
        for (index, data) in dataSets.enumerated() {
            for statement in careTeams[index].createStatements {
                _ = try await store.rows(SQLStatement(text: statement, parameters: []))
            }
            for statement in PlanDifferential.insertStatements(
                data, schema: try PlanDifferential.schema(index), careTeams: careTeams[index], dialect: .sqlite)
            {
                _ = try await store.rows(statement)
            }
        }
        let clock = ManualClock(Date(timeIntervalSince1970: 1_800_000_000))
        let result = try await PlanDifferential.run(
            policies: Self.policies, dataSets: dataSets, dialect: .sqlite, careTeams: careTeams, seed: 7,
            clock: clock, query: { try await store.rows($0) })
        print(
            "plan differential (SQLite): \(Self.policies) policies, \(result.comparisons) plans, \(result.rows) row checks, \(result.stricter) stricter on non-ASCII rows, \(result.mismatches.count) mismatches"
        )
        #expect(result.comparisons >= Self.policies * 6)
        #expect(result.mismatches.isEmpty, "\(result.mismatches.prefix(5))")
        try await store.close()
    }
}
