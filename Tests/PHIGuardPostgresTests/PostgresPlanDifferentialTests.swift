import Foundation
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardCrypto
import PHIGuardFieldEncryption
import PHIGuardPostgres
import PHIGuardRecords
import PHIGuardTesting
import PostgresNIO
import Testing

/// The plan translator's exactness on PostgreSQL (verified TLS, the throwaway server), and list
/// queries through `PostgresRecordStore`. Scale the differential with `PHIGUARD_DIFFERENTIAL_POLICIES` /
/// `PHIGUARD_DIFFERENTIAL_RECORDS`.
@Suite(
    "PostgreSQL plan differential and list queries",
    .enabled(if: TestDatabase.enabled)
)
struct PostgresPlanDifferentialTests {
    static let environment = ProcessInfo.processInfo.environment
    static let policies = environment["PHIGUARD_DIFFERENTIAL_POLICIES"].flatMap(Int.init) ?? 60
    static let records = environment["PHIGUARD_DIFFERENTIAL_RECORDS"].flatMap(Int.init) ?? 600

    @Test func translatedPlansSelectExactlyWhatDecideAllows() async throws {
        try await TestDatabase.withClient { client in
            let dataSets = (0..<4).map { PlanDifferential.dataSet(records: Self.records, seed: 1_000 + UInt64($0)) }
            let careTeams = try (0..<dataSets.count).map { try CareTeamTable(table: "diff_care_team_\($0)") }
            let schemas = try (0..<dataSets.count).map(PlanDifferential.schema)
            for (index, schema) in schemas.enumerated() {
                try await client.query(PostgresQuery(unsafeSQL: "DROP TABLE IF EXISTS \(schema.table)"))
                try await client.query(PostgresQuery(unsafeSQL: "DROP TABLE IF EXISTS \(careTeams[index].table)"))
                let store = PostgresRecordStore(client: client, schemas: [schema], careTeams: careTeams[index])
                try await store.migrate()
                for statement in PlanDifferential.insertStatements(
                    dataSets[index], schema: schema, careTeams: careTeams[index], dialect: .postgres)
                {
                    _ = try await store.rows(statement)
                }
            }
            let store = PostgresRecordStore(client: client, schemas: schemas, timeout: .seconds(60))
            let clock = ManualClock(Date(timeIntervalSince1970: 1_800_000_000))
            let result = try await PlanDifferential.run(
                policies: Self.policies, dataSets: dataSets, dialect: .postgres, careTeams: careTeams, seed: 7,
                clock: clock, query: { try await store.rows($0) })
            print(
                "plan differential (PostgreSQL): \(Self.policies) policies, \(result.comparisons) plans, "
                    + "\(result.rows) row checks, \(result.stricter) stricter on non-ASCII rows, "
                    + "\(result.mismatches.count) mismatches")
            #expect(result.comparisons >= Self.policies * 6)
            #expect(result.mismatches.isEmpty, "\(result.mismatches.prefix(3))")
        }
    }

    @Test func listPagesThroughTheCareTeamOnly() async throws {
        try await TestDatabase.withClient { client in
            let policy = """
                version: 1
                resourceTypes:
                  - name: note
                    fields: [body, ward]
                roles:
                  - name: physician
                rules:
                  - id: physician-reads-team-notes
                    effect: allow
                    roles: physician
                    actions: read
                    resourceTypes: note
                    when: {relationship: careTeam}
                """
            struct Teams: CareTeamDirectory {
                func isOnCareTeam(subjectID: String, patientID: String) -> Bool {
                    subjectID == "u-doc" && (Int(patientID.dropFirst(2)) ?? 99) < 10
                }
            }
            let clock = ManualClock(Date(timeIntervalSince1970: 1_800_000_000))
            let engine = AccessEngine(policy: try CompiledPolicy(yaml: policy), clock: clock, careTeams: Teams())
            let schema = try RecordSchema(
                resourceType: "note", table: "list_notes", fields: [.encrypted("body"), .plain("ward")])
            let careTeams = try CareTeamTable(table: "list_care_team")
            try await client.query(PostgresQuery(unsafeSQL: "DROP TABLE IF EXISTS list_notes, list_care_team"))
            let store = PostgresRecordStore(client: client, schemas: [schema], careTeams: careTeams)
            try await store.migrate()
            let encryptor = FieldEncryptor(keyring: try Keyring(active: try FieldKey.generate(id: "k1")))
            let sink = RecordingAuditSink()
            let log = try await AuditLog(
                sink: sink, chainKey: try AuditChainKey.generate(), signingKey: try AuditSigningKey.generate())
            let records = try GuardedRecords(
                schema: schema, store: store, engine: engine, encryptor: encryptor, audit: log)
            for index in 0..<30 {
                let id = String(format: "n-%02d", index)
                let body = try encryptor.encrypt(
                    "body \(index)", context: FieldContext(table: "list_notes", recordID: id, field: "body"))
                _ = try await store.insert(
                    StoredRecord(
                        id: id, patientID: "p-\(index)",
                        columns: ["body": .bytes(body.bytes), "ward": .text("w\(index % 2)")]),
                    schema: schema)
                if index < 10 { try await store.addCareTeamMember(subjectID: "u-doc", patientID: "p-\(index)") }
            }
            let now = clock.now
            let doctor = AuthenticatedPrincipal(
                subject: Subject(id: "u-doc", roles: ["physician"]), sessionHandle: "s-1", authenticatedAt: now,
                recentlyAuthenticatedAt: now, strength: .multiFactor, validUntil: now.addingTimeInterval(3600))
            var page = try await records.list(as: doctor, limit: 4)
            var seen = page.records
            while let cursor = page.nextCursor {
                page = try await records.list(as: doctor, limit: 4, after: cursor)
                seen += page.records
            }
            #expect(seen.map(\.id) == (0..<10).map { String(format: "n-%02d", $0) })
            #expect(seen.allSatisfy { $0["body"] == "body \(Int($0.id.dropFirst(2)) ?? -1)" })
            #expect(try await records.count(as: doctor, where: [.equals(field: "ward", value: "w0")]) == 5)
            #expect(try await records.list(as: doctor, where: [.patient("p-20")]).records.isEmpty)
            #expect(sink.events(.accessDecision).filter { $0.reason == "query" }.count == 4)
            try await log.close()
        }
    }
}
