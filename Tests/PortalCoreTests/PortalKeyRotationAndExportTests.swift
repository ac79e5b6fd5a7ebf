import Foundation
import Logging
import PHIGuardAudit
import PHIGuardErrors
import PHIGuardFieldEncryption
import PHIGuardKeys
import PHIGuardRecords
import Synchronization
import Testing

@testable import PortalCore

@Suite("PortalCore key rotation and FHIR export (SQLite file)", .serialized)
struct PortalKeyRotationAndExportTests {
    /// The re-encryption source of the portal's record tables (SQLite or PostgreSQL).
    static func rotationStores(_ portal: Portal) throws -> RotationStores {
        try RotationStores(
            storage: portal.storage, recordStore: portal.recordStore,
            schemas: [portal.patientIndex.schema, portal.charts.schema, portal.notes.schema, portal.messages.schema])
    }

    /// Every encrypted cell of the portal's record tables, decrypted with `keyring`, by context.
    static func plaintexts(_ portal: Portal, _ keyring: Keyring) async throws -> [FieldContext: String] {
        let source = try Self.rotationStores(portal).source
        let encryptor = FieldEncryptor(keyring: keyring)
        var values: [FieldContext: String] = [:]
        for stored in try await source.fields(after: nil, limit: 100_000) {
            values[stored.context] = try encryptor.decryptString(stored.envelope, context: stored.context)
        }
        return values
    }

    /// The key ids of every envelope of the record tables.
    static func keyIDs(_ portal: Portal) async throws -> [String: Int] {
        let source = try Self.rotationStores(portal).source
        var counts: [String: Int] = [:]
        for stored in try await source.fields(after: nil, limit: 100_000) {
            counts[stored.envelope.keyID, default: 0] += 1
        }
        return counts
    }

    @Test(
        "keys rotate: admins only (audited); an interrupted rotation resumes; every value reads back under the new key")
    func rotationResumes() async throws {
        let fixture = try await PortalFixture.make(patients: 20)
        let portal = fixture.portal
        let keyDirectory = KeyDirectory(path: portal.configuration.keyDirectory)
        let original = try keyDirectory.fieldKeyring()
        let before = try await Self.plaintexts(portal, original)
        let seededNoteFields = (6 + 4) * 3  // the seeded notes and messages: 3 encrypted fields each
        #expect(before.count == 20 * 14 + seededNoteFields)

        // A physician may not rotate: refused, audited, nothing changed.
        let physician = try await fixture.signIn("dr.grey")
        await #expect(throws: PortalError.notPermitted("keys-rotate")) {
            _ = try await portal.rotateKeys(token: physician)
        }
        #expect(try keyDirectory.fieldKeyring().activeKeyID == original.activeKeyID)
        #expect(try await Self.rotationStores(portal).unfinishedJobs().isEmpty)
        let refusals = try await fixture.auditRecords().filter { $0.event.kind == .keyRotated }
        #expect(refusals.count == 1 && refusals.first?.event.outcome == .failure)

        // An admin's rotation, cancelled after its first batch (as a crash would stop it).
        let admin = try await fixture.signIn("admin.al")
        let interrupted = Task {
            try await portal.rotateKeys(token: admin, batchSize: 25) { _ in
                withUnsafeCurrentTask { $0?.cancel() }
            }
        }
        await #expect(throws: CancellationError.self) { _ = try await interrupted.value }
        let pending = try await Self.rotationStores(portal).unfinishedJobs()
        #expect(pending.count == 1)
        let midway = try keyDirectory.fieldKeyring()
        #expect(midway.activeKeyID != original.activeKeyID)
        let mixed = try await Self.keyIDs(portal)
        #expect(mixed[midway.activeKeyID] == 25 && mixed[original.activeKeyID] == before.count - 25)

        // The rerun finishes the same rotation (same key), and nothing is lost.
        let reports = Reports()
        let result = try await portal.rotateKeys(token: admin, batchSize: 25) { reports.add($0.done) }
        let reported = reports.values
        #expect(result.resumed)
        #expect(result.activeKeyID == midway.activeKeyID)
        #expect(result.rewritten == before.count - 25)
        #expect(result.total == before.count)
        #expect(reported.first == 50 && reported.last == before.count)  // resumed after the 25 walked
        #expect(try await Self.keyIDs(portal) == [midway.activeKeyID: before.count])
        #expect(try await Self.rotationStores(portal).unfinishedJobs().isEmpty)
        let after = try keyDirectory.fieldKeyring()
        #expect(after.retiredKeyIDs == [original.activeKeyID])
        // Under the new key alone (the old one left out), every value reads back as seeded.
        #expect(try await Self.plaintexts(portal, try Keyring(active: after.active)) == before)
        let events = try await fixture.auditRecords().filter { $0.event.kind == .keyRotated }
        #expect(events.map(\.event.reason) == ["not-permitted", "key-added", "re-encrypted"])

        // A reopened portal (the new keyring) reads charts as before.
        let configuration = portal.configuration
        try await portal.close()
        let reopened = try await Portal.open(configuration)
        guard
            case .needsSecondFactor(let pending) = try await reopened.signIn(
                loginName: "alice", password: PortalFixture.password, clientAddress: "ws-reopened")
        else { throw PortalError.notSignedIn }
        let alice = try await reopened.verifySecondFactor(
            token: pending, code: try await reopened.demoCode(loginName: "alice"), clientAddress: "ws-reopened"
        ).token
        let chart = try await reopened.chart(token: alice, patientID: "p-1")
        #expect(chart.fields.first { $0.name == "demographics" }?.value == "Alice Example, born 1984-03-07")
        try await reopened.close()
        await fixture.database?.drop()
        try? FileManager.default.removeItem(at: fixture.directory)
    }

    // MARK: Export

    static func exportFolder(_ fixture: PortalFixture) throws -> String {
        let folder = fixture.directory.appendingPathComponent("exports").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    @Test("export: a FHIR R4 Bundle with exactly the fields the role may see, audited as the read")
    func exportPerRole() async throws {
        let fixture = try await PortalFixture.make()
        defer { Task { await fixture.close() } }
        let portal = fixture.portal
        let folder = try Self.exportFolder(fixture)
        let seeded = PortalSeed.patients(count: 5)[4]  // p-5

        // The billing clerk: identity, contact, insurance, billing; nothing clinical.
        let clerk = try await fixture.signIn("bill.bea")
        let export = try await portal.exportChart(
            token: clerk, patientID: "p-5", exportDirectory: folder, output: "p-5-billing.json")
        #expect(
            export.fields == ["name", "birth-date", "mrn", "ssn", "demographics", "contact", "insurance", "billing"])
        #expect(export.resourceTypes == ["Patient", "Coverage", "Account"])
        let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/p-5-billing.json"))
        let text = String(decoding: data, as: UTF8.self)
        let bundle = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(bundle["resourceType"] as? String == "Bundle" && bundle["type"] as? String == "collection")
        for value in [seeded.index["ssn"], seeded.chart["insurance"], seeded.chart["billing"]] {
            #expect(text.contains(try #require(value)))
        }
        for hidden in ["problems", "medications", "allergies", "vitals", "labs", "immunizations"] {
            #expect(!text.contains(try #require(seeded.chart[hidden])), "\(hidden) exported to billing")
        }
        let mode = try FileManager.default.attributesOfItem(atPath: folder + "/p-5-billing.json")[.posixPermissions]
        #expect(mode as? Int == 0o600)

        // The physician on the care team: clinical resources, never billing nor the SSN.
        let physician = try await fixture.signIn("dr.grey")
        let clinical = try await portal.exportChart(
            token: physician, patientID: "p-5", exportDirectory: folder, output: folder + "/p-5-clinical.json")
        #expect(!clinical.fields.contains("billing") && !clinical.fields.contains("ssn"))
        #expect(
            clinical.resourceTypes == [
                "Patient", "Coverage", "Condition", "MedicationStatement", "AllergyIntolerance", "Observation",
                "Observation", "Immunization",
            ])
        let clinicalText = try String(contentsOfFile: folder + "/p-5-clinical.json", encoding: .utf8)
        #expect(!clinicalText.contains(try #require(seeded.chart["billing"])))
        #expect(!clinicalText.contains(try #require(seeded.index["ssn"])))

        // Audited as the guarded reads they are, with the fields returned.
        let reads = try await fixture.auditRecords().filter {
            $0.event.kind == .accessDecision && $0.event.patientID == "p-5" && $0.event.resourceType == "chart"
        }
        #expect(reads.map(\.event.outcome) == [.allow, .allow])
        #expect(reads.first?.event.fields.contains("billing") == true)

        // A patient exporting another patient's chart: not found, and no file.
        let alice = try await fixture.signIn("alice")
        await #expect(throws: ResourceNotFound.self) {
            _ = try await portal.exportChart(token: alice, patientID: "p-2", exportDirectory: folder, output: "p2.json")
        }
        #expect(!FileManager.default.fileExists(atPath: folder + "/p2.json"))
    }

    @Test(
        "export path rules: .., absolute paths elsewhere, a planted symlink, an existing file, NUL and newline are refused, nothing written or read"
    )
    func exportPathRefusals() async throws {
        let fixture = try await PortalFixture.make()
        defer { Task { await fixture.close() } }
        let portal = fixture.portal
        let folder = try Self.exportFolder(fixture)
        let outside = fixture.directory.appendingPathComponent("outside").path
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: folder + "/planted.json", withDestinationPath: outside + "/x.json")
        try FileManager.default.createDirectory(atPath: folder + "/sub", withIntermediateDirectories: true)
        try Data("existing".utf8).write(to: URL(fileURLWithPath: folder + "/existing.json"))
        let alice = try await fixture.signIn("alice")
        let auditedBefore = try await fixture.auditRecords().count

        let cases: [(String, PortalExportError)] = [
            ("../../etc/passwd", .parentTraversal),
            ("../outside/x.json", .parentTraversal),
            (folder + "/../outside/x.json", .parentTraversal),
            ("/etc/passwd", .outsideExportFolder),
            (outside + "/x.json", .outsideExportFolder),
            ("sub/x.json", .outsideExportFolder),
            (folder + "/sub/x.json", .outsideExportFolder),
            ("planted.json", .symbolicLink),
            (folder + "/planted.json", .symbolicLink),
            ("existing.json", .exists),
            ("a\u{0}.json", .invalidName),
            ("a\n.json", .invalidName),
            ("", .invalidName),
            ("x/", .invalidName),
        ]
        for (output, expected) in cases {
            await #expect(throws: expected, "\(output.debugDescription)") {
                _ = try await portal.exportChart(
                    token: alice, patientID: "p-1", exportDirectory: folder, output: output)
            }
        }
        // Nothing written anywhere, nothing overwritten, the link not followed, nothing read.
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/sub").isEmpty)
        #expect(
            try Set(FileManager.default.contentsOfDirectory(atPath: folder)) == [
                "planted.json", "sub", "existing.json",
            ])
        #expect(try String(contentsOfFile: folder + "/existing.json", encoding: .utf8) == "existing")
        #expect(try await fixture.auditRecords().count == auditedBefore)
        // Without a session the file system is not looked at: an existing and a missing name (and
        // a traversal) all answer "not signed in", for charts and for the audit log.
        for output in ["existing.json", "missing.json", "../../etc/passwd"] {
            await #expect(throws: PortalError.notSignedIn) {
                _ = try await portal.exportChart(token: nil, patientID: "p-1", exportDirectory: folder, output: output)
            }
            await #expect(throws: PortalError.notSignedIn) {
                _ = try await portal.exportAuditLog(token: "forged", exportDirectory: folder, output: output)
            }
        }
        // The public answer: one fixed line, no path.
        let shown = ErrorReporter(logger: Logger(label: "export-test")).report(PortalExportError.parentTraversal)
        #expect(shown.problem.code == "export_path_refused" && !shown.problem.detail.contains("passwd"))
    }

    @Test(
        "export writes through the folder descriptor with O_EXCL|O_NOFOLLOW: a link planted after the check is not followed"
    )
    func exportLinkRace() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("export-race-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let folder = directory.appendingPathComponent("exports").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let destination = try PortalExportPath(output: "late.json", exportDirectory: folder)
        // Planted between the check and the write.
        try FileManager.default.createSymbolicLink(
            atPath: folder + "/late.json", withDestinationPath: directory.appendingPathComponent("target").path)
        #expect(throws: PortalExportError.symbolicLink) { try destination.writeNew(Array("phi".utf8)) }
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("target").path))

        // The folder itself swapped between the check and the write: moved away, and a link to
        // another folder (or another folder) put at its path. Nothing is written anywhere.
        let other = directory.appendingPathComponent("elsewhere").path
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        let checked = try PortalExportPath(output: "swapped.json", exportDirectory: folder)
        try FileManager.default.moveItem(atPath: folder, toPath: folder + "-moved")
        try FileManager.default.createSymbolicLink(atPath: folder, withDestinationPath: other)
        #expect(throws: PortalExportError.exportFolderUnusable) { try checked.writeNew(Array("phi".utf8)) }
        try FileManager.default.removeItem(atPath: folder)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        #expect(throws: PortalExportError.exportFolderUnusable) { try checked.writeNew(Array("phi".utf8)) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: other).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: folder + "-moved/swapped.json"))
    }
}

/// Progress values collected from a `@Sendable` callback.
final class Reports: Sendable {
    private let storage = Mutex<[Int]>([])
    func add(_ value: Int) { storage.withLock { $0.append(value) } }
    var values: [Int] { storage.withLock { $0 } }
}

@Suite("PortalCore key rotation: one at a time, never a second key under the same id (SQLite file)", .serialized)
struct PortalKeyRotationLockTests {
    /// The active key id and every key id of `keyring`.
    static func ids(_ keyring: Keyring) -> [String] { [keyring.activeKeyID] + keyring.keys.map(\.id) }

    @Test("a rotation while another holds the key directory's lock is refused (409, audited); nothing changes")
    func lockedRotationRefused() async throws {
        let fixture = try await PortalFixture.make(patients: 4)
        let portal = fixture.portal
        let keyDirectory = KeyDirectory(path: portal.configuration.keyDirectory)
        let original = try keyDirectory.fieldKeyring()
        let admin = try await fixture.signIn("admin.al")

        // Another process's rotation: the same flock on the key directory.
        let other = open(portal.configuration.keyDirectory, O_RDONLY | O_DIRECTORY)
        #expect(other >= 0)
        #expect(flock(other, LOCK_EX | LOCK_NB) == 0)
        await #expect(throws: PortalKeyRotationError.alreadyRunning) { _ = try await portal.rotateKeys(token: admin) }
        #expect(
            PortalKeyRotationLockTests.ids(try keyDirectory.fieldKeyring()) == PortalKeyRotationLockTests.ids(original))
        #expect(try await PortalKeyRotationAndExportTests.rotationStores(portal).unfinishedJobs().isEmpty)
        let refused = try await fixture.auditRecords().filter { $0.event.kind == .keyRotated }
        #expect(refused.map(\.event.reason) == ["already-running"] && refused.first?.event.outcome == .failure)
        #expect(
            ErrorReporter(logger: Logger(label: "test")).report(PortalKeyRotationError.alreadyRunning).status == 409)

        // Released: the rotation runs.
        flock(other, LOCK_UN)
        close(other)
        let result = try await portal.rotateKeys(token: admin)
        #expect(result.activeKeyID != original.activeKeyID)
        try await portal.close()
        try? FileManager.default.removeItem(at: fixture.directory)
    }

    @Test(
        "resuming a rotation whose key this key directory lacks is refused once a field is under it; before that, the key is made"
    )
    func resumeWithoutTheKey() async throws {
        let fixture = try await PortalFixture.make(patients: 6)
        let portal = fixture.portal
        let keyDirectory = KeyDirectory(path: portal.configuration.keyDirectory)
        let original = try keyDirectory.fieldKeyring()
        let admin = try await fixture.signIn("admin.al")

        // A rotation stopped after its first batch; then this host's field.keys is one without its
        // key (another host's key directory, or a restored backup).
        let interrupted = Task {
            try await portal.rotateKeys(token: admin, batchSize: 10) { _ in
                withUnsafeCurrentTask { $0?.cancel() }
            }
        }
        await #expect(throws: CancellationError.self) { _ = try await interrupted.value }
        let midway = try keyDirectory.fieldKeyring()
        let target = midway.activeKeyID
        let mixed = try await PortalKeyRotationAndExportTests.keyIDs(portal)
        #expect(mixed[target] == 10)
        try keyDirectory.replaceKeyring(.fieldKeyring, with: original)

        await #expect(throws: PortalKeyRotationError.targetKeyMissing(target)) {
            _ = try await portal.rotateKeys(token: admin)
        }
        // Nothing changed: the same file, the same envelopes, the job still there to resume.
        #expect(
            PortalKeyRotationLockTests.ids(try keyDirectory.fieldKeyring()) == PortalKeyRotationLockTests.ids(original))
        #expect(try await PortalKeyRotationAndExportTests.keyIDs(portal) == mixed)
        #expect(try await PortalKeyRotationAndExportTests.rotationStores(portal).unfinishedJobs().count == 1)
        let reasons = try await fixture.auditRecords().filter { $0.event.kind == .keyRotated }.map(\.event.reason)
        #expect(reasons.last == "target-key-missing")

        // With the key back (the other host's field.keys copied here), the rerun resumes and finishes.
        try keyDirectory.replaceKeyring(.fieldKeyring, with: midway)
        let resumed = try await portal.rotateKeys(token: admin)
        #expect(resumed.resumed && resumed.activeKeyID == target)
        #expect(try await PortalKeyRotationAndExportTests.keyIDs(portal).keys.sorted() == [target])

        // A job begun whose key was never written and under which nothing is sealed (stopped between
        // its first two steps): the rerun makes the key under that id and finishes.
        let unwritten = "field-unwritten-test"
        try await PortalKeyRotationAndExportTests.rotationStores(portal).checkpoints(
            job: Portal.rotationJobPrefix + unwritten
        ).begin()
        let made = try await portal.rotateKeys(token: admin)
        #expect(made.resumed && made.activeKeyID == unwritten)
        #expect(try keyDirectory.fieldKeyring().activeKeyID == unwritten)
        #expect(try await PortalKeyRotationAndExportTests.keyIDs(portal).keys.sorted() == [unwritten])
        try await portal.close()
        try? FileManager.default.removeItem(at: fixture.directory)
    }
}
