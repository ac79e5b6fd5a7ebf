import Foundation
import PHIGuardFieldEncryption
import PHIGuardPostgres
import PHIGuardRecords
import PostgresNIO
import Testing

/// `PostgresRecordStore` tables as a `ReencryptionJob` source with a durable checkpoint, on the
/// throwaway server (verified TLS): the twin of `SQLiteReencryptionSourceTests`.
@Suite("PostgreSQL record tables as a ReencryptionJob source", .enabled(if: TestDatabase.enabled))
struct PostgresReencryptionSourceTests {
    /// Two tables (notes: body, title, a plain kind; charts: vitals, labs with some NULLs), 30 rows
    /// each, every encrypted cell under the key `old`; the body runs against them, then they are dropped.
    struct Fixture {
        let store: PostgresRecordStore
        let notes: RecordSchema
        let charts: RecordSchema
        let old: Keyring
        var plaintexts: [FieldContext: String] = [:]
        let prefix: String
    }

    static func withFixture(_ body: (Fixture) async throws -> Void) async throws {
        let prefix = "reenc_" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        try await TestDatabase.withClient { client in
            let notes = try RecordSchema(
                resourceType: "note", table: "\(prefix)_notes",
                fields: [.encrypted("body"), .encrypted("title"), .plain("kind")])
            let charts = try RecordSchema(
                resourceType: "chart", table: "\(prefix)_charts", fields: [.encrypted("vitals"), .encrypted("labs")])
            let store = PostgresRecordStore(client: client, schemas: [notes, charts], timeout: .seconds(60))
            try await store.migrate()
            let old = try Keyring(active: try FieldKey.generate(id: "old"))
            var fixture = Fixture(store: store, notes: notes, charts: charts, old: old, prefix: prefix)
            let encryptor = FieldEncryptor(keyring: old)
            for (schema, names) in [(notes, ["body", "title"]), (charts, ["vitals", "labs"])] {
                for index in 0..<30 {
                    let id = "r-\(String(format: "%03d", index))"
                    var columns: [String: StoredValue] = [:]
                    for name in names where !(name == "labs" && index % 3 == 0) {  // some NULL cells
                        let context = FieldContext(table: schema.table, recordID: id, field: name)
                        let value = "\(name) of \(id)"
                        fixture.plaintexts[context] = value
                        columns[name] = .bytes(try encryptor.encrypt(value, context: context).bytes)
                    }
                    if schema.table == notes.table { columns["kind"] = .text("plain") }
                    #expect(
                        try await store.insert(
                            StoredRecord(id: id, patientID: "p-\(index)", columns: columns), schema: schema))
                }
            }
            do {
                try await body(fixture)
            } catch {
                try? await drop(client, prefix)
                throw error
            }
            try await drop(client, prefix)
        }
    }

    static func drop(_ client: PostgresClient, _ prefix: String) async throws {
        try await client.query(PostgresQuery(unsafeSQL: "DROP TABLE IF EXISTS \(prefix)_notes, \(prefix)_charts"))
        try await client.query(
            PostgresQuery(
                unsafeSQL: "DELETE FROM phiguard_reencryption_checkpoints WHERE job LIKE '\(prefix)%'"))
    }

    static func rotated(_ old: Keyring) throws -> FieldEncryptor {
        FieldEncryptor(keyring: try old.rotated(to: try FieldKey.generate(id: "new")))
    }

    @Test(
        "a job cancelled mid-run resumes from the PostgreSQL checkpoint; every cell ends under the new key, NULLs stay NULL"
    )
    func resumesFromCheckpoint() async throws {
        try await Self.withFixture { fixture in
            let source = fixture.store.reencryptionSource(schemas: [fixture.notes, fixture.charts])
            #expect(try await source.fieldCount() == fixture.plaintexts.count)
            let walked = try await source.fields(after: nil, limit: 10_000)
            #expect(walked.map(\.context) == fixture.plaintexts.keys.sorted())  // FieldContext order, NULLs skipped
            // Small pages walk the same cells in the same order.
            var paged: [FieldContext] = []
            while true {
                let page = try await source.fields(after: paged.last, limit: 4)
                guard !page.isEmpty else { break }
                paged += page.map(\.context)
            }
            #expect(paged == walked.map(\.context))

            let rotated = try Self.rotated(fixture.old)
            let job = fixture.prefix + ":rotation"
            let checkpoints = try await PostgresReencryptionCheckpointStore.open(in: fixture.store, job: job)
            try await checkpoints.begin()
            #expect(try await PostgresReencryptionCheckpointStore.unfinishedJobs(in: fixture.store).contains(job))
            let first = Task {
                try await ReencryptionJob(encryptor: rotated, source: source, checkpoints: checkpoints, batchSize: 7)
                    .run { _ in withUnsafeCurrentTask { $0?.cancel() } }
            }
            await #expect(throws: CancellationError.self) { _ = try await first.value }
            // A new store value (another process) reads the same durable checkpoint.
            let reopened = try await PostgresReencryptionCheckpointStore.open(in: fixture.store, job: job)
            let position = try #require(try await reopened.load())
            #expect(position == walked[6].context)
            #expect(try await source.fieldCount(through: position) == 7)

            let resumed = try await ReencryptionJob(
                encryptor: rotated, source: source, checkpoints: reopened, batchSize: 7
            ).run()
            #expect(resumed.scanned == fixture.plaintexts.count - 7)
            #expect(resumed.rewritten == fixture.plaintexts.count - 7)
            try await reopened.finish()
            #expect(try await !PostgresReencryptionCheckpointStore.unfinishedJobs(in: fixture.store).contains(job))

            let newOnly = FieldEncryptor(keyring: try Keyring(active: rotated.keyring.active))
            let after = try await source.fields(after: nil, limit: 10_000)
            #expect(after.count == fixture.plaintexts.count)
            for stored in after {
                #expect(stored.envelope.keyID == "new")
                #expect(
                    try newOnly.decryptString(stored.envelope, context: stored.context)
                        == fixture.plaintexts[stored.context])
            }
            // Plain columns are untouched.
            let note = try #require(try await fixture.store.fetch("r-000", schema: fixture.notes))
            #expect(note.columns["kind"] == .text("plain"))
            // Compare-and-swap: a stale expected value writes nothing.
            let cell = try #require(walked.first)
            #expect(try await !source.replace(at: cell.context, expected: cell.envelope, with: cell.envelope))
        }
    }

    /// Delegates to a real source; after the first page is read, the "application" writes a new value
    /// into the first cell of that page (through the record store), before the job writes it.
    struct ApplicationWritesMeanwhile: ReencryptionSource {
        let source: PostgresRecordReencryptionSource
        let write: @Sendable (StoredField) async throws -> Void
        let done = Flag()

        final class Flag: @unchecked Sendable {
            private let lock = NSLock()
            private var value = false
            func set() -> Bool {
                lock.withLock {
                    defer { value = true }; return !value
                }
            }
        }

        func fields(after position: FieldContext?, limit: Int) async throws -> [StoredField] {
            let page = try await source.fields(after: position, limit: limit)
            if let first = page.first, done.set() { try await write(first) }
            return page
        }

        func replace(at context: FieldContext, expected: FieldEnvelope, with replacement: FieldEnvelope)
            async throws -> Bool
        {
            try await source.replace(at: context, expected: expected, with: replacement)
        }
    }

    @Test(
        "a cell the application rewrote between the job's read and write is counted changedConcurrently, not clobbered")
    func concurrentChangeIsNotClobbered() async throws {
        try await Self.withFixture { fixture in
            let source = fixture.store.reencryptionSource(schemas: [fixture.notes, fixture.charts])
            let oldEncryptor = FieldEncryptor(keyring: fixture.old)
            let store = fixture.store
            let charts = fixture.charts
            let racing = ApplicationWritesMeanwhile(source: source) { cell in
                // The first cell in order is charts r-000 (labs is NULL there): vitals.
                #expect(cell.context == FieldContext(table: charts.table, recordID: "r-000", field: "vitals"))
                let fresh = try oldEncryptor.encrypt("vitals written by the app", context: cell.context)
                #expect(
                    try await store.update(
                        "r-000", patientID: "p-0", columns: ["vitals": .bytes(fresh.bytes)], schema: charts))
            }
            let rotated = try Self.rotated(fixture.old)
            let report = try await ReencryptionJob(encryptor: rotated, source: racing, batchSize: 500).run()
            #expect(report.changedConcurrently == 1)
            #expect(report.rewritten == fixture.plaintexts.count - 1)
            let row = try #require(try await store.fetch("r-000", schema: charts))
            guard case .bytes(let bytes) = try #require(row.columns["vitals"]) else {
                Issue.record("vitals is not bytes")
                return
            }
            let envelope = try FieldEnvelope(bytes: bytes)
            let context = FieldContext(table: charts.table, recordID: "r-000", field: "vitals")
            // The application's write survived (still under the old key, which a sweep would move).
            #expect(envelope.keyID == "old")
            #expect(try rotated.decryptString(envelope, context: context) == "vitals written by the app")
        }
    }

    @Test(
        "a tampered envelope is reported unreadable and left as it was; an envelope that does not parse stops the job before any write"
    )
    func corruptEnvelopes() async throws {
        try await Self.withFixture { fixture in
            let store = fixture.store
            let notes = fixture.notes
            let source = store.reencryptionSource(schemas: [notes, fixture.charts])
            // Tamper: flip the last byte (the tag) of notes r-005 body; it still parses.
            let row = try #require(try await store.fetch("r-005", schema: notes))
            guard case .bytes(var tampered) = try #require(row.columns["body"]) else {
                Issue.record("body is not bytes")
                return
            }
            tampered[tampered.count - 1] ^= 0x01
            #expect(
                try await store.update("r-005", patientID: "p-5", columns: ["body": .bytes(tampered)], schema: notes))
            let rotated = try Self.rotated(fixture.old)
            let report = try await ReencryptionJob(encryptor: rotated, source: source, batchSize: 500).run()
            let bad = FieldContext(table: notes.table, recordID: "r-005", field: "body")
            #expect(report.unreadableCount == 1)
            #expect(report.unreadable == [bad])
            #expect(report.rewritten == fixture.plaintexts.count - 1)
            #expect(try await store.fetch("r-005", schema: notes)?.columns["body"] == .bytes(tampered))

            // Garbage that is no envelope at all: the page read throws a typed error, nothing is written.
            let second = FieldEncryptor(keyring: try rotated.keyring.rotated(to: try FieldKey.generate(id: "third")))
            #expect(
                try await store.update(
                    "r-010", patientID: "p-10", columns: ["title": .bytes([1, 2, 3])], schema: notes))
            let before = try await store.fetch("r-000", schema: fixture.charts)
            await #expect(throws: PostgresRecordStoreError.corruptRow) {
                _ = try await ReencryptionJob(encryptor: second, source: source, batchSize: 500).run()
            }
            #expect(try await store.fetch("r-000", schema: fixture.charts) == before)
            #expect(try await store.fetch("r-010", schema: notes)?.columns["title"] == .bytes([1, 2, 3]))
        }
    }
}
