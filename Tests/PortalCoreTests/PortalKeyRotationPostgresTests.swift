import Foundation
import Logging
import PHIGuardFieldEncryption
import PHIGuardKeys
import PHIGuardRecords
import PostgresNIO
import Synchronization
import Testing

@testable import PortalCore

/// `keys rotate` on the PostgreSQL deployment: the SQLite suite's rotation test on a database of its
/// own, and the multi-instance seam (one instance rotates while another, holding the old keyring,
/// keeps updating charts). Skipped without `PHIGUARD_POSTGRES_URL` (except under CI).
@Suite("PortalCore key rotation (PostgreSQL, verified TLS)", .serialized, .enabled(if: PortalTestDatabase.enabled))
struct PortalKeyRotationPostgresTests {
    @Test(
        "keys rotate on PostgreSQL: admins only; an interrupted rotation resumes from its checkpoint row; every value reads back under the new key"
    )
    func rotationResumes() async throws {
        try await PortalFixture.$onPostgres.withValue(true) {
            try await PortalKeyRotationAndExportTests().rotationResumes()
        }
    }

    @Test(
        "a rotation while another instance (with a key directory of its own) holds the database's advisory lock is refused; nothing changes"
    )
    func advisoryLockRefused() async throws {
        try await PortalFixture.$onPostgres.withValue(true) {
            let fixture = try await PortalFixture.make(patients: 3)
            let database = try #require(fixture.database)
            let keyDirectory = KeyDirectory(path: fixture.portal.configuration.keyDirectory)
            let original = try keyDirectory.fieldKeyring().activeKeyID
            let admin = try await fixture.signIn("admin.al")
            let client = try PortalTestDatabase.client(url: database.url)
            let runner = Task { await client.run() }
            let logger = Logger(label: "advisory-lock-test")
            try await client.withConnection { connection in
                _ = try await connection.query(
                    "SELECT pg_advisory_lock(\(RotationLock.advisoryKey))", logger: logger
                ).collect()
                await #expect(throws: PortalKeyRotationError.alreadyRunning) {
                    _ = try await fixture.portal.rotateKeys(token: admin)
                }
                _ = try await connection.query(
                    "SELECT pg_advisory_unlock(\(RotationLock.advisoryKey))", logger: logger
                ).collect()
            }
            #expect(try keyDirectory.fieldKeyring().activeKeyID == original)
            #expect(try await PortalKeyRotationAndExportTests.rotationStores(fixture.portal).unfinishedJobs().isEmpty)
            // Released: the rotation runs.
            #expect(try await fixture.portal.rotateKeys(token: admin).activeKeyID != original)
            runner.cancel()
            try await fixture.portal.close()
            await database.drop()
            try? FileManager.default.removeItem(at: fixture.directory)
        }
    }

    @Test(
        "one instance rotates while another (old keyring) updates charts: every write survives and reads back; the stale instance fails closed on new-key rows until restarted"
    )
    func rotationWhileAnotherInstanceWrites() async throws {
        let pair = try await PortalMultiInstanceTests.Pair()
        defer { Task { await pair.close() } }
        let first = pair.first.portal
        let second = pair.second
        let keyDirectory = KeyDirectory(path: first.configuration.keyDirectory)
        let original = try keyDirectory.fieldKeyring()
        let before = try await PortalKeyRotationAndExportTests.plaintexts(first, original)
        let admin = try await pair.first.signIn("admin.al")
        let physician = try await pair.first.signIn("dr.grey")
        // dr.grey's care team among p-1…p-6 (not p-3).
        let patients = ["p-1", "p-2", "p-4", "p-5", "p-6"]

        let rotating = Running()
        var written: [String: String] = [:]
        let rotation = Task {
            defer { rotating.stop() }
            return try await first.rotateKeys(token: admin, batchSize: 5)
        }
        // The second instance writes under the keyring it loaded (the old key) all along, and a few more after.
        var writes = 0
        var afterwards = 0
        while afterwards < 5 {
            if !rotating.isRunning { afterwards += 1 }
            let patient = patients[writes % patients.count]
            let value = "Medication update \(writes) for \(patient)"
            _ = try await second.updateChart(token: physician, patientID: patient, field: "medications", value: value)
            written[patient] = value
            writes += 1
        }
        let result = try await rotation.value
        #expect(result.activeKeyID != original.activeKeyID)
        #expect(writes > 5)

        // Nothing lost: every cell opens under field.keys as it is now (new key active, old retired),
        // the second instance's last writes are there, and every other value is as before.
        let rotated = try keyDirectory.fieldKeyring()
        #expect(rotated.activeKeyID == result.activeKeyID && rotated.retiredKeyIDs == [original.activeKeyID])
        let after = try await PortalKeyRotationAndExportTests.plaintexts(first, rotated)
        #expect(after.count == before.count)
        for (context, value) in before {
            if context.table == first.charts.schema.table, context.field == "medications",
                let latest = written[context.recordID]
            {
                #expect(after[context] == latest, "\(context.recordID): the second instance's write was lost")
            } else {
                #expect(after[context] == value, "\(context) changed")
            }
        }
        // Under the new key, except what the second instance wrote after the sweep passed its cell
        // (under the old key, retired, still readable: the operational rule below).
        let keyIDs = try await PortalKeyRotationAndExportTests.keyIDs(first)
        #expect(Set(keyIDs.keys).isSubset(of: [result.activeKeyID, original.activeKeyID]))
        #expect(keyIDs[original.activeKeyID, default: 0] <= patients.count)

        // The second instance still holds the old keyring: a chart whose cells are under the new key
        // is refused with a typed error (nothing decrypted, nothing written), never read wrongly.
        let snapshot = try await PortalKeyRotationAndExportTests.keyIDs(first)
        await #expect(throws: RecordError.self) {
            _ = try await second.chart(token: physician, patientID: "p-4")
        }
        #expect(try await PortalKeyRotationAndExportTests.keyIDs(first) == snapshot)
        // A restarted instance (the operational rule; the rotating instance's own encryptor was also
        // built at open) reads every chart, with the last write.
        let restarted = try await Portal.open(
            PortalConfiguration(
                databasePath: pair.first.directory.appendingPathComponent("third.sqlite").path,
                keyDirectory: first.configuration.keyDirectory, policyPath: first.configuration.policyPath,
                databaseURL: try #require(pair.first.database?.url), clock: pair.clock))
        for patient in patients {
            let chart = try await restarted.chart(token: physician, patientID: patient)
            #expect(chart.fields.first { $0.name == "medications" }?.value == written[patient])
        }
        try await restarted.close()
    }
}

/// Whether the rotation is still running (set by its task, read by the writer loop).
final class Running: Sendable {
    private let running = Mutex(true)
    var isRunning: Bool { running.withLock { $0 } }
    func stop() { running.withLock { $0 = false } }
}
