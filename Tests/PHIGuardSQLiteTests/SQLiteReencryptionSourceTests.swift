import Foundation
import PHIGuardFieldEncryption
import PHIGuardRecords
import PHIGuardSQLite
import Testing

@Suite("SQLite record tables as a ReencryptionJob source, with a durable checkpoint")
struct SQLiteReencryptionSourceTests {
    @Test(
        "a job cancelled mid-run resumes from the SQLite checkpoint; every cell ends under the new key, NULLs stay NULL"
    )
    func resumesFromCheckpoint() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("reencrypt-\(UUID()).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let database = try await SQLiteDatabase.open(path: path)
        let notes = try RecordSchema(
            resourceType: "note", table: "notes", fields: [.encrypted("body"), .encrypted("title"), .plain("kind")])
        let charts = try RecordSchema(
            resourceType: "chart", table: "charts", fields: [.encrypted("vitals"), .encrypted("labs")])
        let store = try await SQLiteRecordStore.open(in: database, schemas: [notes, charts])
        let old = try Keyring(active: try FieldKey.generate(id: "old"))
        let encryptor = FieldEncryptor(keyring: old)
        var plaintexts: [FieldContext: String] = [:]
        for (schema, names) in [(notes, ["body", "title"]), (charts, ["vitals", "labs"])] {
            for index in 0..<30 {
                let id = "r-\(String(format: "%03d", index))"
                var columns: [String: StoredValue] = [:]
                for name in names where !(name == "labs" && index % 3 == 0) {  // some NULL cells
                    let context = FieldContext(table: schema.table, recordID: id, field: name)
                    let value = "\(name) of \(id)"
                    plaintexts[context] = value
                    columns[name] = .bytes(try encryptor.encrypt(value, context: context).bytes)
                }
                if schema.table == "notes" { columns["kind"] = .text("plain") }
                #expect(
                    try await store.insert(
                        StoredRecord(id: id, patientID: "p-\(index)", columns: columns), schema: schema))
            }
        }
        let source = try store.reencryptionSource(schemas: [notes, charts])
        #expect(try await source.fieldCount() == plaintexts.count)
        let walked = try await source.fields(after: nil, limit: 10_000)
        #expect(walked.map(\.context) == plaintexts.keys.sorted())  // FieldContext order, NULLs skipped

        let rotated = FieldEncryptor(keyring: try old.rotated(to: try FieldKey.generate(id: "new")))
        let checkpoints = try await SQLiteReencryptionCheckpointStore.open(in: database, job: "rotation")
        try await checkpoints.begin()
        #expect(try await SQLiteReencryptionCheckpointStore.unfinishedJobs(in: database) == ["rotation"])
        let first = Task {
            try await ReencryptionJob(encryptor: rotated, source: source, checkpoints: checkpoints, batchSize: 7).run {
                _ in withUnsafeCurrentTask { $0?.cancel() }
            }
        }
        await #expect(throws: CancellationError.self) { _ = try await first.value }
        let position = try #require(try await checkpoints.load())
        #expect(try await source.fieldCount(through: position) == 7)

        let resumed = try await ReencryptionJob(
            encryptor: rotated, source: source, checkpoints: checkpoints, batchSize: 7
        ).run()
        #expect(resumed.scanned == plaintexts.count - 7)
        #expect(resumed.rewritten == plaintexts.count - 7)
        try await checkpoints.finish()
        #expect(try await SQLiteReencryptionCheckpointStore.unfinishedJobs(in: database).isEmpty)

        let newOnly = FieldEncryptor(keyring: try Keyring(active: rotated.keyring.active))
        for stored in try await source.fields(after: nil, limit: 10_000) {
            #expect(stored.envelope.keyID == "new")
            #expect(try newOnly.decryptString(stored.envelope, context: stored.context) == plaintexts[stored.context])
        }
        // Compare-and-swap: a stale expected value writes nothing.
        let cell = try #require(walked.first)
        #expect(try await !source.replace(at: cell.context, expected: cell.envelope, with: cell.envelope))
        try await database.close()
    }
}
