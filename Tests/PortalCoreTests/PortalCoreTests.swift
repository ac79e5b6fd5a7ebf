import Foundation
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardCrypto
import PHIGuardErrors
import PHIGuardRecords
import PHIGuardSQLite
import PHIGuardTestSupport
import Testing

@testable import PortalCore

/// A seeded portal on a real SQLite file in a temporary directory (real libsodium, Argon2id, keys).
final class PortalFixture: Sendable {
    static let password = "riverside-test-password-4821"
    /// Set by the PostgreSQL suite (`PortalPostgresTests`): fixtures made while it is true keep
    /// their stores in a fresh PostgreSQL database of their own instead of an SQLite file.
    @TaskLocal static var onPostgres = false

    let directory: URL
    let portal: Portal
    /// The PostgreSQL database the portal is in (dropped by ``close()``), if any.
    let database: PortalTestDatabase?

    private init(directory: URL, portal: Portal, database: PortalTestDatabase?) {
        self.directory = directory
        self.portal = portal
        self.database = database
    }

    static func make(patients: Int = 20, clock: any PHIGuardClock = SystemClock()) async throws -> PortalFixture {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portal-core-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let database = onPostgres ? try await PortalTestDatabase.create() : nil
        let portal = try await Portal.open(
            PortalConfiguration(
                databasePath: directory.appendingPathComponent("portal.sqlite").path,
                keyDirectory: directory.appendingPathComponent("keys").path,
                policyPath: Fixture.repositoryRoot.appendingPathComponent("Examples/Policies/hospital.yaml").path,
                databaseURL: database?.url, clock: clock),
            creating: true)
        try await portal.seed(password: password, patientCount: patients)
        return PortalFixture(directory: directory, portal: portal, database: database)
    }

    /// Signs `user` in with the password and their demo authenticator's code; returns the token.
    func signIn(_ user: String) async throws -> String {
        // Each user at a workstation of their own (rate limits count per address).
        let address = "ws-\(user)-\(UUID().uuidString.prefix(8))"
        guard
            case .needsSecondFactor(let pending) = try await portal.signIn(
                loginName: user, password: Self.password, clientAddress: address)
        else { throw PortalError.notSignedIn }
        return try await portal.verifySecondFactor(
            token: pending, code: try await portal.demoCode(loginName: user), clientAddress: address
        ).token
    }

    /// Every audit record so far (written through the log's queue first).
    func auditRecords() async throws -> [AuditRecord] {
        try await portal.audit.flush()
        var records: [AuditRecord] = []
        var position = 0
        while true {
            let chunk = try await portal.auditSink.entries(from: position, limit: 500)
            for case .record(let record) in chunk { records.append(record) }
            if chunk.count < 500 { return records }
            position += chunk.count
        }
    }

    func close() async {
        try? await portal.close()
        await database?.drop()
        try? FileManager.default.removeItem(at: directory)
    }
}

@Suite("PortalCore service layer (SQLite file)", .serialized)
struct PortalCoreTests {
    @Test("each role lists the patients the policy allows, with the fields it allows")
    func listsPerRole() async throws {
        let fixture = try await PortalFixture.make()
        defer { Task { await fixture.close() } }
        let portal = fixture.portal

        let physician = try await portal.listPatients(token: try await fixture.signIn("dr.grey"), limit: 100)
        // dr.grey's care team among p-1…p-20: p-1, p-2, p-4…p-20.
        #expect(Set(physician.patients.map(\.patientID)) == Set(([1, 2] + Array(4...20)).map { "p-\($0)" }))
        #expect(physician.patients.allSatisfy { $0.fields["ssn"] == nil && $0.fields["name"] != nil })

        let deskToken = try await fixture.signIn("desk.dan")
        let desk = try await portal.listPatients(token: deskToken, limit: 100)
        #expect(desk.patients.count == 20)
        #expect(desk.patients.allSatisfy { $0.fields["ssn"] == nil })

        let billing = try await portal.listPatients(token: try await fixture.signIn("bill.bea"), limit: 100)
        #expect(billing.patients.count == 20 && billing.patients.allSatisfy { $0.fields["ssn"] != nil })

        let patient = try await portal.listPatients(token: try await fixture.signIn("alice"), limit: 100)
        #expect(patient.patients.map(\.patientID) == ["p-1"])

        let auditor = try await portal.listPatients(token: try await fixture.signIn("audit.ada"), limit: 100)
        #expect(auditor.patients.isEmpty)

        // Keyset pages: 20 rows in pages of 7 → 7, 7, 6, every patient once.
        let desk2 = deskToken
        var seen: [String] = []
        var cursor: String?
        repeat {
            let page = try await portal.listPatients(token: desk2, cursor: cursor, limit: 7)
            seen += page.patients.map(\.patientID)
            cursor = page.nextCursor
        } while cursor != nil
        #expect(seen.count == 20 && Set(seen).count == 20)
        // A cursor is bound to its session: another session's cursor is refused.
        let first = try await portal.listPatients(token: desk2, limit: 7)
        await #expect(throws: RecordError.invalidCursor) {
            _ = try await portal.listPatients(token: try await fixture.signIn("desk.dan"), cursor: first.nextCursor)
        }
    }

    @Test("search is exact, through the blind indexes, and tells nothing about patients the user may not see")
    func searchIsOracleSafe() async throws {
        let fixture = try await PortalFixture.make()
        defer { Task { await fixture.close() } }
        let portal = fixture.portal
        let desk = try await fixture.signIn("desk.dan")
        #expect(
            try await portal.listPatients(token: desk, search: PatientSearch(name: "BOB SAMPLE")).patients
                .map(\.patientID) == ["p-2"])
        #expect(
            try await portal.listPatients(token: desk, search: PatientSearch(mrn: "MRN-1000111")).patients
                .map(\.patientID) == ["p-3"])
        // Wildcards and SQL are literals: nothing matches, nothing breaks.
        for probe in ["%", "Bob%", "' OR 1=1 --", "*"] {
            #expect(try await portal.listPatients(token: desk, search: PatientSearch(name: probe)).patients.isEmpty)
        }
        // The SSN has no index and the front desk never sees it: refused whatever the data.
        await #expect(throws: RecordError.self) {
            _ = try await portal.listPatients(token: desk, search: PatientSearch(name: ""))
        }
        // A physician searching for a patient outside the care team gets what an unknown name gets.
        let physician = try await fixture.signIn("dr.grey")
        let outside = try await portal.listPatients(token: physician, search: PatientSearch(name: "Carol Placeholder"))
        let unknown = try await portal.listPatients(token: physician, search: PatientSearch(name: "Nobody Atall"))
        #expect(outside.patients.isEmpty && unknown.patients.isEmpty)
        #expect(outside.nextCursor == nil && unknown.nextCursor == nil)
    }

    @Test("charts: fields per role, IDOR answered as not found, writes only to permitted fields")
    func chartsPerPolicy() async throws {
        let fixture = try await PortalFixture.make()
        defer { Task { await fixture.close() } }
        let portal = fixture.portal
        let alice = try await fixture.signIn("alice")
        let own = try await portal.chart(token: alice, patientID: "p-1")
        #expect(own.fields.map(\.name).contains("billing") && own.identity["name"] == "Alice Example")
        for other in ["p-2", "p-404", " p-2", "P-2", "p-2/../p-1"] {
            await #expect(throws: (any Error).self) { _ = try await portal.chart(token: alice, patientID: other) }
        }
        await #expect(throws: ResourceNotFound.self) { _ = try await portal.chart(token: alice, patientID: "p-2") }

        let physician = try await fixture.signIn("dr.grey")
        let chart = try await portal.chart(token: physician, patientID: "p-2")
        #expect(!chart.fields.map(\.name).contains("billing"))
        try await portal.updateChart(token: physician, patientID: "p-2", field: "medications", value: "Metformin 1 g")
        #expect(
            try await portal.chart(token: physician, patientID: "p-2").fields.first { $0.name == "medications" }?
                .value == "Metformin 1 g")
        await #expect(throws: RecordError.fieldsNotPermitted(["billing"])) {
            try await portal.updateChart(token: physician, patientID: "p-2", field: "billing", value: "0.00")
        }
        await #expect(throws: PortalError.self) {
            try await portal.updateChart(token: physician, patientID: "p-2", field: "no-such", value: "x")
        }
        // The patient may change their contact, never a clinical field.
        try await portal.updateChart(token: alice, patientID: "p-1", field: "contact", value: "1 New Road")
        await #expect(throws: RecordError.self) {
            try await portal.updateChart(token: alice, patientID: "p-1", field: "problems", value: "None")
        }
        // Billing sees the redacted chart: demographics, contact, insurance, billing only.
        let billing = try await portal.chart(token: try await fixture.signIn("bill.bea"), patientID: "p-1")
        #expect(billing.fields.map(\.name) == ["demographics", "contact", "insurance", "billing"])
        // An admin who is also a physician on p-1's care team cannot open the chart (explicit deny wins).
        await #expect(throws: ResourceNotFound.self) {
            _ = try await portal.chart(token: try await fixture.signIn("dr.admin"), patientID: "p-1")
        }
    }

    @Test("a session without a principal reads nothing, and the attempt is audited as denied")
    func noPrincipalNoPHI() async throws {
        let fixture = try await PortalFixture.make()
        defer { Task { await fixture.close() } }
        let portal = fixture.portal
        let registering = try await portal.beginRegistration()
        await #expect(throws: PortalError.notSignedIn) {
            _ = try await portal.chart(token: registering, patientID: "p-1")
        }
        await #expect(throws: PortalError.notSignedIn) { _ = try await portal.listPatients(token: registering) }
        await #expect(throws: PortalError.notSignedIn) {
            try await portal.updateChart(token: registering, patientID: "p-1", field: "contact", value: "x")
        }
        guard
            case .needsSecondFactor(let pending) = try await portal.signIn(
                loginName: "alice", password: PortalFixture.password)
        else { Issue.record("expected a pending session"); return }
        await #expect(throws: PortalError.notSignedIn) { _ = try await portal.chart(token: pending, patientID: "p-1") }
        let denials = try await fixture.auditRecords().filter {
            $0.event.kind == .accessDecision && ($0.event.reason ?? "").hasPrefix("no-principal-")
        }
        #expect(denials.count == 4)
        #expect(denials.filter { $0.event.patientID == "p-1" }.count == 3)
    }

    @Test("break-glass: refused without a reason or for a role not allowed, scoped to one patient, reviewed")
    func breakGlass() async throws {
        let fixture = try await PortalFixture.make()
        defer { Task { await fixture.close() } }
        let portal = fixture.portal
        let nurse = try await fixture.signIn("nurse.joy")
        await #expect(throws: ResourceNotFound.self) { _ = try await portal.chart(token: nurse, patientID: "p-2") }
        await #expect(throws: EmergencyAccessError.self) {
            _ = try await portal.breakGlass(token: nurse, patientID: "p-2", reasonCode: "ETREAT", justification: "")
        }
        await #expect(throws: PortalError.self) {
            _ = try await portal.breakGlass(token: nurse, patientID: "p-2", reasonCode: "BECAUSE", justification: "x")
        }
        let desk = try await fixture.signIn("desk.dan")
        await #expect(throws: EmergencyAccessError.self) {
            _ = try await portal.breakGlass(token: desk, patientID: "p-2", reasonCode: "ETREAT", justification: "x")
        }
        let grant = try await portal.breakGlass(
            token: nurse, patientID: "p-2", reasonCode: "ETREAT", justification: "collapsed in the waiting room")
        #expect(try await portal.chart(token: nurse, patientID: "p-2").breakGlassGrantID == grant.id)
        await #expect(throws: ResourceNotFound.self) { _ = try await portal.chart(token: nurse, patientID: "p-3") }
        // Signing out ends the grant: the next session of the same nurse cannot use it.
        try await portal.signOut(token: nurse)
        let again = try await fixture.signIn("nurse.joy")
        await #expect(throws: ResourceNotFound.self) { _ = try await portal.chart(token: again, patientID: "p-2") }

        // Only an auditor sees the queue and reviews; the holder cannot review their own grant.
        await #expect(throws: PortalError.notPermitted("audit-log")) {
            _ = try await portal.breakGlassReviewQueue(token: again)
        }
        await #expect(throws: PortalError.notPermitted("audit-log")) {
            _ = try await portal.breakGlassReviewQueue(token: try await fixture.signIn("alice"))
        }
        let auditor = try await fixture.signIn("audit.ada")
        let queue = try await portal.breakGlassReviewQueue(token: auditor)
        #expect(queue.map(\.grant.id) == [grant.id])
        #expect(queue.first?.uses.contains { $0.event.patientID == "p-2" && $0.event.outcome == .allow } == true)
        try await portal.reviewBreakGlass(token: auditor, grantID: grant.id, outcome: "justified")
        #expect(try await portal.breakGlassReviewQueue(token: auditor).isEmpty)
        await #expect(throws: EmergencyAccessError.self) {
            try await portal.reviewBreakGlass(token: auditor, grantID: grant.id, outcome: "justified")
        }
    }

    @Test("the database file and its WAL hold no seeded name, SSN, chart text or password in clear")
    func dataAtRest() async throws {
        let fixture = try await PortalFixture.make()
        defer { Task { await fixture.close() } }
        _ = try await fixture.portal.listPatients(token: try await fixture.signIn("bill.bea"))
        let patients = PortalSeed.patients(count: 20)
        var needles = [PortalFixture.password]
        for patient in patients {
            needles += [patient.index["name"], patient.index["ssn"], patient.index["mrn"]].compactMap { $0 }
            needles += [patient.chart["contact"], patient.chart["demographics"]].compactMap { $0 }
        }
        var bytes = Data()
        for suffix in ["", "-wal"] {
            let path = fixture.portal.databaseFilePath + suffix
            if let data = FileManager.default.contents(atPath: path) { bytes.append(data) }
        }
        #expect(bytes.count > 10_000)
        let found = needles.filter { bytes.range(of: Data($0.utf8)) != nil }
        #expect(found.isEmpty, "in clear: \(found.prefix(5))")
    }

    @Test("staff administration: admins only; a role change ends the account's sessions; disabling locks it out")
    func staffAdministration() async throws {
        let fixture = try await PortalFixture.make()
        defer { Task { await fixture.close() } }
        let portal = fixture.portal
        let physician = try await fixture.signIn("dr.grey")
        await #expect(throws: PortalError.notPermitted("staff-roles")) {
            try await portal.setRoles(token: physician, loginName: "dr.grey", roles: ["admin"])
        }
        let nurse = try await fixture.signIn("nurse.joy")
        let admin = try await fixture.signIn("admin.al")
        await #expect(throws: PortalError.invalidInput("roles")) {
            try await portal.setRoles(token: admin, loginName: "nurse.joy", roles: ["superuser"])
        }
        await #expect(throws: PortalError.unknownAccount) {
            try await portal.setRoles(token: admin, loginName: "nobody", roles: ["nurse"])
        }
        try await portal.setRoles(token: admin, loginName: "nurse.joy", roles: ["physician"])
        await #expect(throws: PortalError.notSignedIn) { _ = try await portal.whoami(token: nurse) }
        #expect(try await portal.whoami(token: try await fixture.signIn("nurse.joy")).roles == ["physician"])
        try await portal.setDisabled(token: admin, loginName: "dr.grey", disabled: true)
        await #expect(throws: PortalError.notSignedIn) { _ = try await portal.whoami(token: physician) }
        await #expect(throws: (any Error).self) { _ = try await fixture.signIn("dr.grey") }
    }
}
