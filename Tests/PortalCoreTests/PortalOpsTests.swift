import Foundation
import PHIGuardAudit
import PHIGuardAuthentication
import PHIGuardErrors
import Testing

@testable import PortalCore

@Suite("PortalCore audit export, notes in the FHIR export, temporary passwords (SQLite file)", .serialized)
struct PortalOpsTests {
    /// The account id (the audit events' actor) of `loginName`.
    static func accountID(_ fixture: PortalFixture, _ loginName: String) async throws -> String {
        try #require(try await fixture.portal.accounts.account(loginName: try LoginName(loginName))).id
    }

    // MARK: audit export

    @Test("audit export: an auditor writes FHIR R4 AuditEvent NDJSON of the log (ranges too); the export is audited")
    func auditorExportsTheLog() async throws {
        let fixture = try await PortalFixture.make(patients: 5)
        defer { Task { await fixture.close() } }
        let portal = fixture.portal
        let folder = try PortalKeyRotationAndExportTests.exportFolder(fixture)
        // Something to find: a physician's chart read.
        let physician = try await fixture.signIn("dr.grey")
        _ = try await portal.chart(token: physician, patientID: "p-2")
        let auditor = try await fixture.signIn("audit.ada")
        let export = try await portal.exportAuditLog(token: auditor, exportDirectory: folder, output: "audit.ndjson")
        let logged = try await fixture.auditRecords()
        let greyID = try await Self.accountID(fixture, "dr.grey")
        let adaID = try await Self.accountID(fixture, "audit.ada")

        let path = folder + "/audit.ndjson"
        #expect(export.path.hasSuffix("/audit.ndjson"))
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions]
        #expect(mode as? Int == 0o600)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        let resources = try lines.map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
        // Every record up to and including the export's own decision, in order, each an AuditEvent.
        #expect(export.records == logged.count && resources.count == logged.count && export.unreadable == 0)
        #expect(resources.allSatisfy { $0["resourceType"] as? String == "AuditEvent" })
        #expect(resources.map { $0["id"] as? String } == logged.map { "phiguard-\($0.sequence)" })
        // The physician's read of p-2 is there as a Patient-entity read.
        let read = try #require(
            logged.first {
                $0.event.kind == .accessDecision && $0.event.actorID == greyID && $0.event.patientID == "p-2"
            })
        let readResource = try #require(resources.first { $0["id"] as? String == "phiguard-\(read.sequence)" })
        #expect(readResource["action"] as? String == "R" && readResource["outcome"] as? String == "0")
        #expect(String(describing: readResource["entity"] ?? "").contains("Patient/p-2"))
        // The export itself: an allowed `export` decision on the audit log by the auditor, last.
        let decision = try #require(logged.last)
        #expect(decision.event.kind == .accessDecision && decision.event.actorID == adaID)
        #expect(decision.event.action == "export" && decision.event.resourceType == "audit-log")
        #expect(decision.event.outcome == .allow)

        // A range ending before the log began, or starting in an hour, is empty; since the first
        // record's second holds everything (with the two exports' decisions and its own); BALP writes
        // the library's BALP lines.
        let first = try #require(logged.first).event.timestamp
        let start = Date(timeIntervalSince1970: TimeInterval(first / 1_000_000))
        let none = try await portal.exportAuditLog(
            token: auditor, until: start, exportDirectory: folder, output: "before.ndjson")
        #expect(none.records == 0)
        #expect(try String(contentsOfFile: folder + "/before.ndjson", encoding: .utf8).isEmpty)
        let later = try await portal.exportAuditLog(
            token: auditor, since: Date(timeIntervalSinceNow: 3600), exportDirectory: folder, output: "later.ndjson")
        #expect(later.records == 0)
        let balp = try await portal.exportAuditLog(
            token: auditor, format: .balp, since: start, exportDirectory: folder, output: "balp.ndjson")
        #expect(balp.records == logged.count + 3 && balp.lines > 0)
        let balpText = try String(contentsOfFile: folder + "/balp.ndjson", encoding: .utf8)
        #expect(balpText.contains("https://profiles.ihe.net/ITI/BALP/StructureDefinition/"))
        // A middle cut: since the read, until after it holds the read and not the sign-ins before.
        let cut = try await portal.exportAuditLog(
            token: auditor,
            since: Date(timeIntervalSince1970: TimeInterval(read.event.timestamp) / 1_000_000),
            exportDirectory: folder, output: "cut.ndjson")
        let cutText = try String(contentsOfFile: folder + "/cut.ndjson", encoding: .utf8)
        #expect(cutText.contains("\"phiguard-\(read.sequence)\""))
        #expect(!cutText.contains("\"phiguard-\(try #require(logged.first).sequence)\""))
        #expect(cut.records < logged.count + 4)  // each export above added its decision
    }

    @Test("audit export: a patient, a physician and an admin are refused (decided by the policy, audited), no file")
    func auditExportRefused() async throws {
        let fixture = try await PortalFixture.make(patients: 5)
        defer { Task { await fixture.close() } }
        let portal = fixture.portal
        let folder = try PortalKeyRotationAndExportTests.exportFolder(fixture)
        for user in ["alice", "dr.grey", "admin.al"] {
            let token = try await fixture.signIn(user)
            await #expect(throws: PortalError.notPermitted("audit-log"), "\(user)") {
                _ = try await portal.exportAuditLog(token: token, exportDirectory: folder, output: "\(user).ndjson")
            }
            let refusal = try #require(try await fixture.auditRecords().last)
            #expect(refusal.event.actorID == (try await Self.accountID(fixture, user)))
            #expect(refusal.event.action == "export")
            #expect(refusal.event.resourceType == "audit-log" && refusal.event.outcome == .deny)
        }
        await #expect(throws: PortalError.self) {
            _ = try await portal.exportAuditLog(token: nil, exportDirectory: folder, output: "anon.ndjson")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
    }

    @Test("audit export path rules: the chart export's refusals, before anything is decided or read")
    func auditExportPathRefusals() async throws {
        let fixture = try await PortalFixture.make(patients: 5)
        defer { Task { await fixture.close() } }
        let portal = fixture.portal
        let folder = try PortalKeyRotationAndExportTests.exportFolder(fixture)
        let outside = fixture.directory.appendingPathComponent("outside").path
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: folder + "/planted.ndjson", withDestinationPath: outside + "/x.ndjson")
        try Data("existing".utf8).write(to: URL(fileURLWithPath: folder + "/existing.ndjson"))
        let auditor = try await fixture.signIn("audit.ada")
        let auditedBefore = try await fixture.auditRecords().count
        let cases: [(String, PortalExportError)] = [
            ("../../etc/passwd", .parentTraversal),
            (folder + "/../outside/x.ndjson", .parentTraversal),
            ("/etc/passwd", .outsideExportFolder),
            (outside + "/x.ndjson", .outsideExportFolder),
            ("planted.ndjson", .symbolicLink),
            ("existing.ndjson", .exists),
            ("a\n.ndjson", .invalidName),
        ]
        for (output, expected) in cases {
            await #expect(throws: expected, "\(output.debugDescription)") {
                _ = try await portal.exportAuditLog(token: auditor, exportDirectory: folder, output: output)
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty)
        #expect(try String(contentsOfFile: folder + "/existing.ndjson", encoding: .utf8) == "existing")
        #expect(try await fixture.auditRecords().count == auditedBefore)
    }
}
