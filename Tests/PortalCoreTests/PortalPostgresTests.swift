import Foundation
import Logging
import PHIGuardAudit
import PHIGuardCrypto
import PHIGuardErrors
import PHIGuardTestSupport
import PostgresNIO
import Testing

@testable import PortalCore

/// The portal with every store in PostgreSQL (`PortalConfiguration.databaseURL`): the SQLite suite's
/// flows on a database of their own each, the rows at rest, and two instances sharing one database.
/// Skipped when `PHIGUARD_POSTGRES_URL` is unset (run through `scripts/with-test-postgres.sh`),
/// except under CI.
@Suite(
    "PortalCore service layer (PostgreSQL, verified TLS)", .serialized, .enabled(if: PortalTestDatabase.enabled))
struct PortalPostgresTests {
    /// Runs one of the SQLite suite's tests with its fixture on PostgreSQL.
    private func onPostgres(_ body: (PortalCoreTests) async throws -> Void) async throws {
        try await PortalFixture.$onPostgres.withValue(true) { try await body(PortalCoreTests()) }
    }

    @Test("each role lists the patients the policy allows (PostgreSQL)")
    func listsPerRole() async throws { try await onPostgres { try await $0.listsPerRole() } }

    @Test("search is exact and oracle-safe (PostgreSQL)")
    func searchIsOracleSafe() async throws { try await onPostgres { try await $0.searchIsOracleSafe() } }

    @Test("charts: fields per role, IDOR as not found, permitted writes only (PostgreSQL)")
    func chartsPerPolicy() async throws { try await onPostgres { try await $0.chartsPerPolicy() } }

    @Test("a session without a principal reads nothing, audited (PostgreSQL)")
    func noPrincipalNoPHI() async throws { try await onPostgres { try await $0.noPrincipalNoPHI() } }

    @Test("break-glass: refusals, scope, review (PostgreSQL)")
    func breakGlass() async throws { try await onPostgres { try await $0.breakGlass() } }

    @Test("staff administration: role change and disabling end sessions (PostgreSQL)")
    func staffAdministration() async throws { try await onPostgres { try await $0.staffAdministration() } }

    @Test("notes: the psychotherapy note stays with the physician, not the nurse, not under break-glass (PostgreSQL)")
    func psychotherapyNote() async throws {
        try await PortalFixture.$onPostgres.withValue(true) {
            try await PortalNotesTests().psychotherapyNoteStaysWithThePhysician()
        }
    }

    @Test("messages: a patient's own thread only; any spelling of another's id is not found (PostgreSQL)")
    func messagesStayInTheirThread() async throws {
        try await PortalFixture.$onPostgres.withValue(true) { try await PortalNotesTests().messagesStayInTheirThread() }
    }

    @Test("notes and messages: nothing for billing, front desk and admin (PostgreSQL)")
    func nonClinicalStaffSeeNoNotes() async throws {
        try await PortalFixture.$onPostgres.withValue(true) {
            try await PortalNotesTests().nonClinicalStaffSeeNoNotes()
        }
    }

    @Test("every row of every table holds no seeded name, SSN, chart text or password in clear")
    func rowsAtRest() async throws {
        let fixture = try await PortalFixture.$onPostgres.withValue(true) { try await PortalFixture.make() }
        defer { Task { await fixture.close() } }
        _ = try await fixture.portal.listPatients(token: try await fixture.signIn("bill.bea"))
        try await fixture.portal.audit.flush()
        let database = try #require(fixture.database)
        var needles = [PortalFixture.password]
        for patient in PortalSeed.patients(count: 20) {
            needles += [patient.index["name"], patient.index["ssn"], patient.index["mrn"]].compactMap { $0 }
            needles += [patient.chart["contact"], patient.chart["demographics"]].compactMap { $0 }
        }
        // Each row as JSON text (bytea values appear as \x hex): look for each value and its hex.
        let text = try await PortalTestDatabase.withClient(url: database.url) { client in
            var tables: [String] = []
            for try await name in try await client.query(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'"
            ).decode(String.self) {
                tables.append(name)
            }
            var text = ""
            for table in tables {
                let rows = try await client.query(
                    PostgresQuery(unsafeSQL: "SELECT row_to_json(t)::text FROM \(table) t"))
                for try await row in rows.decode(String.self) { text += row + "\n" }
            }
            return (tables, text)
        }
        #expect(text.0.contains("portal_charts") && text.0.contains("phiguard_audit_records"))
        #expect(text.0.count >= 12, "tables: \(text.0)")
        #expect(text.1.utf8.count > 10_000)
        let found = needles.filter { needle in
            text.1.contains(needle) || text.1.contains(Hex.encode(Array(needle.utf8)))
        }
        #expect(found.isEmpty, "in clear: \(found.prefix(5))")
    }

    @Test("an unreachable PostgreSQL server: a generic message with a reference, no URL, host or SQL")
    func unreachableServer() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portal-pg-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        // A port nothing listens on (the server's own port plus one is not guaranteed free; 1 is never a PostgreSQL).
        let url = try PortalTestDatabase.serverURL(database: "portal_unreachable", port: 1)
        await #expect(throws: (any Error).self) {
            _ = try await Portal.open(
                PortalConfiguration(
                    databasePath: directory.appendingPathComponent("portal.sqlite").path,
                    keyDirectory: directory.appendingPathComponent("keys").path,
                    policyPath: Fixture.repositoryRoot.appendingPathComponent("Examples/Policies/hospital.yaml")
                        .path, databaseURL: url))
        }
        do {
            _ = try await Portal.open(
                PortalConfiguration(
                    databasePath: directory.appendingPathComponent("portal.sqlite").path,
                    keyDirectory: directory.appendingPathComponent("keys").path,
                    policyPath: Fixture.repositoryRoot.appendingPathComponent("Examples/Policies/hospital.yaml")
                        .path, databaseURL: url))
        } catch {
            var logger = Logger(label: "quiet")
            logger.logLevel = .critical
            let shown = ErrorReporter(logger: logger).report(error).cliMessage
            for leak in ["127.0.0.1", "localhost", "portal_unreachable", "postgres", "Postgres", "SELECT", ":1"] {
                #expect(!shown.contains(leak), "\(shown)")
            }
            #expect(!shown.isEmpty)
        }
    }

    @Test("the database dropped under a running portal: a generic message with a reference, no SQL or names")
    func serverGoneWhileRunning() async throws {
        let fixture = try await PortalFixture.$onPostgres.withValue(true) { try await PortalFixture.make(patients: 4) }
        defer { Task { await fixture.close() } }
        let token = try await fixture.signIn("dr.grey")
        _ = try await fixture.portal.chart(token: token, patientID: "p-1")
        try await #require(fixture.database).drop()
        var logger = Logger(label: "quiet")
        logger.logLevel = .critical
        let reporter = ErrorReporter(logger: logger)
        do {
            _ = try await fixture.portal.chart(token: token, patientID: "p-1")
            Issue.record("the chart was read with the database gone")
        } catch {
            let shown = reporter.report(error).cliMessage
            for leak in ["portal_", "SELECT", "phiguard_", "PSQLError", "127.0.0.1", "Alice"] {
                #expect(!shown.contains(leak), "\(shown)")
            }
        }
    }
}

/// Two portal instances on one PostgreSQL database at once (the multi-instance deployment): same
/// keys, same clock, each with its own checkpoint witness file (as on two hosts).
@Suite("Two PortalCore instances on one PostgreSQL database", .serialized, .enabled(if: PortalTestDatabase.enabled))
struct PortalMultiInstanceTests {
    final class Pair: Sendable {
        let first: PortalFixture
        let second: Portal
        let clock: ManualClock

        init() async throws {
            let clock = ManualClock(Date(timeIntervalSince1970: 1_800_000_000))
            first = try await PortalFixture.$onPostgres.withValue(true) {
                try await PortalFixture.make(patients: 6, clock: clock)
            }
            second = try await Portal.open(
                PortalConfiguration(
                    databasePath: first.directory.appendingPathComponent("second.sqlite").path,
                    keyDirectory: first.portal.configuration.keyDirectory,
                    policyPath: first.portal.configuration.policyPath, databaseURL: try #require(first.database?.url),
                    clock: clock))
            self.clock = clock
        }

        func close() async {
            try? await second.close()
            await first.close()
        }
    }

    /// Password step on `portal` for `user`; returns the pending token.
    private static func pending(_ portal: Portal, _ user: String, address: String) async throws -> String {
        guard
            case .needsSecondFactor(let token) = try await portal.signIn(
                loginName: user, password: PortalFixture.password, clientAddress: address)
        else { throw PortalError.notSignedIn }
        return token
    }

    @Test("attack 13, second instance: a TOTP code accepted by one instance is refused by the other")
    func totpReplayAcrossInstances() async throws {
        let pair = try await Pair()
        defer { Task { await pair.close() } }
        let onFirst = try await Self.pending(pair.first.portal, "dr.grey", address: "ws-a")
        let onSecond = try await Self.pending(pair.second, "dr.grey", address: "ws-b")
        let code = try await pair.first.portal.demoCode(loginName: "dr.grey")
        _ = try await pair.first.portal.verifySecondFactor(token: onFirst, code: code, clientAddress: "ws-a")
        await #expect(throws: (any Error).self) {
            _ = try await pair.second.verifySecondFactor(token: onSecond, code: code, clientAddress: "ws-b")
        }
        // Control: the next code (the other instance's helper sees the step the first one used) works there.
        let onSecondAgain = try await Self.pending(pair.second, "dr.grey", address: "ws-b")
        pair.clock.advance(by: .seconds(30))
        let next = try await pair.second.demoCode(loginName: "dr.grey")
        #expect(next != code)
        _ = try await pair.second.verifySecondFactor(token: onSecondAgain, code: next, clientAddress: "ws-b")
    }

    @Test("a session signed in on one instance works on the other; ended on one, it is dead on both")
    func sessionsAcrossInstances() async throws {
        let pair = try await Pair()
        defer { Task { await pair.close() } }
        let token = try await pair.first.signIn("nurse.joy")
        #expect(try await pair.second.whoami(token: token).roles == ["nurse"])
        #expect(try await pair.second.signOut(token: token))
        await #expect(throws: PortalError.notSignedIn) { _ = try await pair.first.portal.whoami(token: token) }
        await #expect(throws: PortalError.notSignedIn) { _ = try await pair.second.whoami(token: token) }
        // A role change made through one instance ends the sessions the other one serves.
        let physician = try await pair.first.signIn("dr.grey")
        let admin = try await pair.first.signIn("admin.al")
        try await pair.second.setRoles(token: admin, loginName: "dr.grey", roles: ["nurse"])
        await #expect(throws: PortalError.notSignedIn) { _ = try await pair.first.portal.whoami(token: physician) }
    }

    @Test("both instances append audit records at once: one chain, every record, verified")
    func concurrentAudit() async throws {
        let pair = try await Pair()
        defer { Task { await pair.close() } }
        let onFirst = try await pair.first.signIn("dr.grey")
        let onSecond = try await pair.first.signIn("nurse.joy")
        let before = try await pair.first.auditRecords().count
        let reads = 15
        try await withThrowingTaskGroup(of: Void.self) { group in
            for portal in [pair.first.portal, pair.second] {
                group.addTask {
                    for index in 0..<reads {
                        _ = try await portal.chart(token: onFirst, patientID: "p-\(1 + index % 2)")
                        _ = try await portal.chart(token: onSecond, patientID: "p-1")
                    }
                }
            }
            try await group.waitForAll()
        }
        try await pair.second.audit.flush()
        let records = try await pair.first.auditRecords()
        let reads2 = records.dropFirst(before).filter { $0.event.kind == .accessDecision && $0.event.action == "read" }
        #expect(reads2.count >= 4 * reads, "\(reads2.count) read decisions")
        #expect(records.map(\.sequence) == Array(records.indices).map { UInt64($0) + (records.first?.sequence ?? 0) })
        let checkpoints =
            try await pair.first.portal.auditSink.checkpoints()
            + (try await pair.first.portal.auditWitness.checkpoints())
            + (try await pair.second.auditWitness.checkpoints())
        let keys = try PortalKeys(directory: pair.first.portal.configuration.keyDirectory)
        let report = try await AuditVerifier(
            chainKey: keys.chainKey, checkpointKey: pair.first.portal.audit.checkpointPublicKey
        ).verify(pair.first.portal.auditSink, checkpoints: checkpoints)
        #expect(report.isIntact, "\(report)")
    }
}
