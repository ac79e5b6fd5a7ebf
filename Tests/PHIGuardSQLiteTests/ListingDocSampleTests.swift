import Foundation
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardFieldEncryption
import PHIGuardRecords
import PHIGuardSQLite
import PHIGuardTesting
import Testing

/// The sample of the DocC article "Listing and searching PHI", compiled and run.
@Suite struct ListingDocSampleTests {
    @Test func listingSampleRuns() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sample-\(UUID()).sqlite").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let notes = try RecordSchema(
            resourceType: "note", table: "notes", fields: [.encrypted("body"), .plain("ward")])
        struct Teams: CareTeamDirectory {
            func isOnCareTeam(subjectID: String, patientID: String) -> Bool {
                subjectID == "u-doc" && patientID == "p-1"
            }
        }
        let engine = AccessEngine(
            policy: try CompiledPolicy(
                yaml: """
                    version: 1
                    resourceTypes: [{name: note, fields: [body, ward]}]
                    roles: [{name: physician}]
                    rules:
                      - {id: physician-reads-team, effect: allow, roles: physician, actions: read, resourceTypes: note, when: {relationship: careTeam}}
                    """), careTeams: Teams())
        let encryptor = FieldEncryptor(keyring: try Keyring(active: try FieldKey.generate(id: "k1")))
        let log = try await AuditLog(
            sink: RecordingAuditSink(), chainKey: try AuditChainKey.generate(),
            signingKey: try AuditSigningKey.generate())
        let now = engine.clock.now
        let doctor = AuthenticatedPrincipal(
            subject: Subject(id: "u-doc", roles: ["physician"]), sessionHandle: "s-1", authenticatedAt: now,
            recentlyAuthenticatedAt: now, strength: .multiFactor, validUntil: now.addingTimeInterval(600))

        // --- the article's sample ---
        let careTeams = try CareTeamTable(table: "care_team")
        let store = try await SQLiteRecordStore.open(path: path, schemas: [notes], careTeams: careTeams)
        try await store.addCareTeamMember(subjectID: "u-doc", patientID: "p-1")
        let records = try GuardedRecords(schema: notes, store: store, engine: engine, encryptor: encryptor, audit: log)

        for (id, patient) in [("n-1", "p-1"), ("n-2", "p-2")] {
            let body = try encryptor.encrypt(
                "note \(id)", context: FieldContext(table: "notes", recordID: id, field: "body"))
            _ = try await store.insert(
                StoredRecord(id: id, patientID: patient, columns: ["body": .bytes(body.bytes), "ward": .text("4B")]),
                schema: notes)
        }

        var page = try await records.list(as: doctor, where: [.equals(field: "ward", value: "4B")], limit: 50)
        var rows = page.records
        while let cursor = page.nextCursor {
            page = try await records.list(
                as: doctor, where: [.equals(field: "ward", value: "4B")], limit: 50, after: cursor)
            rows += page.records
        }
        let total = try await records.count(as: doctor, where: [.equals(field: "ward", value: "4B")])
        // --- end of sample ---

        #expect(rows.map(\.id) == ["n-1"] && rows.first?["body"] == "note n-1")
        #expect(total == 1)
        try await log.close()
        try await store.close()
    }
}
