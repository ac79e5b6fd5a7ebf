import Foundation
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardAuthentication
import PHIGuardErrors
import PHIGuardPasswords
import PHIGuardRecords
import PHIGuardTOTP
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

    // MARK: notes and messages in the FHIR export

    /// The resources of an exported bundle.
    static func bundleResources(_ path: String) throws -> [[String: Any]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let bundle = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let entries = try #require(bundle["entry"] as? [[String: Any]])
        return entries.compactMap { $0["resource"] as? [String: Any] }
    }

    /// The text of a `DocumentReference`'s first attachment.
    static func attachmentText(_ document: [String: Any]) throws -> String {
        let content = try #require(document["content"] as? [[String: Any]])
        let attachment = try #require(content.first?["attachment"] as? [String: Any])
        let encoded = try #require(attachment["data"] as? String)
        let data = try #require(Data(base64Encoded: encoded))
        return String(decoding: data, as: UTF8.self)
    }

    @Test(
        "chart export: the notes and messages the exporter may read, as DocumentReference and Communication; a nurse's export lacks the psychotherapy note"
    )
    func exportHoldsVisibleNotesAndMessages() async throws {
        let fixture = try await PortalFixture.make(patients: 5)
        defer { Task { await fixture.close() } }
        let portal = fixture.portal
        let folder = try PortalKeyRotationAndExportTests.exportFolder(fixture)
        let psychotherapy = try #require(PortalSeed.notes.first { $0.label == "psychotherapy" })
        #expect(psychotherapy.patientID == "p-1")

        // The physician on p-1's care team: all three notes (the psychotherapy one too), both messages.
        let physician = try await fixture.signIn("dr.grey")
        let full = try await portal.exportChart(
            token: physician, patientID: "p-1", exportDirectory: folder, output: "p-1-dr.json")
        #expect(Set(full.noteIDs) == ["note-p-1-1", "note-p-1-2", "note-p-1-3"])
        #expect(Set(full.messageIDs) == ["msg-p-1-1", "msg-p-1-2"])
        let resources = try Self.bundleResources(folder + "/p-1-dr.json")
        let documents = resources.filter { $0["resourceType"] as? String == "DocumentReference" }
        let communications = resources.filter { $0["resourceType"] as? String == "Communication" }
        #expect(documents.count == 3 && communications.count == 2)
        let exported = try #require(documents.first { $0["id"] as? String == psychotherapy.id })
        #expect(try Self.attachmentText(exported) == psychotherapy.body)
        #expect((exported["subject"] as? [String: Any])?["reference"] as? String == "Patient/p-1")
        #expect(exported["status"] as? String == "current" && exported["date"] as? String == psychotherapy.date)
        let payloads = communications.compactMap { ($0["payload"] as? [[String: Any]])?.first?["contentString"] }
        #expect(
            Set(payloads.compactMap { $0 as? String })
                == Set(PortalSeed.messages.filter { $0.patientID == "p-1" }.map(\.body)))

        // nurse.joy is on p-1's care team: the policy's nurse deny keeps the psychotherapy note out.
        let nurse = try await fixture.signIn("nurse.joy")
        let nursing = try await portal.exportChart(
            token: nurse, patientID: "p-1", exportDirectory: folder, output: "p-1-nurse.json")
        #expect(Set(nursing.noteIDs) == ["note-p-1-1", "note-p-1-3"])
        let nurseText = try String(contentsOfFile: folder + "/p-1-nurse.json", encoding: .utf8)
        #expect(!nurseText.contains(psychotherapy.id))
        #expect(!nurseText.contains(Data(psychotherapy.body.utf8).base64EncodedString()))
        #expect(!nurseText.contains(psychotherapy.body))
        let nurseDocuments = try Self.bundleResources(folder + "/p-1-nurse.json").filter {
            $0["resourceType"] as? String == "DocumentReference"
        }
        #expect(nurseDocuments.count == 2)

        // The patient's own export: her messages; another patient's notes and messages never.
        let alice = try await fixture.signIn("alice")
        let own = try await portal.exportChart(
            token: alice, patientID: "p-1", exportDirectory: folder, output: "p-1-alice.json")
        #expect(Set(own.messageIDs) == ["msg-p-1-1", "msg-p-1-2"])
        let aliceText = try String(contentsOfFile: folder + "/p-1-alice.json", encoding: .utf8)
        for message in PortalSeed.messages where message.patientID == "p-1" {
            #expect(aliceText.contains(message.body))
        }
        for message in PortalSeed.messages where message.patientID != "p-1" {
            #expect(!aliceText.contains(message.body))
        }
        #expect(own.noteIDs.allSatisfy { $0.hasPrefix("note-p-1-") })

        // The notes and messages were read through the guarded, audited lists.
        let nurseID = try await Self.accountID(fixture, "nurse.joy")
        let nurseQueries = try await fixture.auditRecords().filter {
            $0.event.actorID == nurseID && $0.event.resourceType == "clinical-note"
        }
        #expect(!nurseQueries.isEmpty)
    }
}

extension PortalOpsTests {
    // MARK: temporary passwords

    @Test(
        "staff add: the temporary password's session reaches nothing (refused, audited) until password change clears it"
    )
    func temporaryPasswordMustBeChanged() async throws {
        let fixture = try await PortalFixture.make(patients: 5)
        defer { Task { await fixture.close() } }
        let portal = fixture.portal
        let admin = try await fixture.signIn("admin.al")
        let created = try await portal.addStaff(token: admin, loginName: "dr.new", roles: ["physician"])
        let accountID = try await Self.accountID(fixture, "dr.new")
        #expect(
            try await portal.accounts.account(id: accountID)?.attributes[Portal.passwordChangeAttribute] == "required")

        // The first sign-in: the temporary password and the authenticator's code.
        guard
            case .needsSecondFactor(let pending) = try await portal.signIn(
                loginName: "dr.new", password: try PasswordSecret(created.temporaryPassword),
                clientAddress: "ws-new")
        else { throw PortalError.notSignedIn }
        let first = try await portal.verifySecondFactor(
            token: pending, code: try created.enrollment.totp.code(at: Date()), clientAddress: "ws-new")
        #expect(first.identity.passwordChangeRequired && first.identity.strength == "multi-factor")

        // Nothing but the password change: no list, no chart, no notes, no whoami.
        let refused = PortalError.notPermitted("password-change-required")
        await #expect(throws: refused) { _ = try await portal.listPatients(token: first.token, limit: 10) }
        await #expect(throws: refused) { _ = try await portal.chart(token: first.token, patientID: "p-1") }
        await #expect(throws: refused) { _ = try await portal.notes(token: first.token, patientID: "p-1") }
        await #expect(throws: refused) { _ = try await portal.whoami(token: first.token) }
        let refusals = try await fixture.auditRecords().filter {
            $0.event.reason == "password-change-required" && $0.event.outcome == .deny
        }
        #expect(refusals.count == 4)
        #expect(refusals.contains { $0.event.resourceType == "chart" && $0.event.patientID == "p-1" })
        // Nor an authenticator of the holder's own (whoever saw the printout must not take the account).
        await #expect(throws: refused) { _ = try await portal.beginSecondFactorEnrollment(token: first.token) }
        #expect(
            try await fixture.auditRecords().contains {
                $0.event.reason == "password-change-required" && $0.event.resourceType == "second-factor"
            })
        // And the temporary password "changed" to itself is no change.
        await #expect(throws: AuthenticationError.passwordNotAccepted([.sameAsCurrent])) {
            _ = try await portal.changePassword(
                token: first.token, current: try PasswordSecret(created.temporaryPassword),
                new: try PasswordSecret(created.temporaryPassword), clientAddress: "ws-new")
        }
        #expect(try await portal.accounts.account(id: accountID)?.attributes[Portal.passwordChangeAttribute] != nil)

        // The change: the new token reaches PHI, the old one is dead, the account is cleared.
        let changed = try await portal.changePassword(
            token: first.token, current: try PasswordSecret(created.temporaryPassword),
            new: try PasswordSecret("a-new-password-for-the-ward-7731"), clientAddress: "ws-new")
        let identity = try await portal.whoami(token: changed)
        #expect(!identity.passwordChangeRequired)
        #expect(try await portal.accounts.account(id: accountID)?.attributes[Portal.passwordChangeAttribute] == nil)
        _ = try await portal.listPatients(token: changed, limit: 10)
        await #expect(throws: PortalError.notSignedIn) { _ = try await portal.whoami(token: first.token) }
    }
}

extension PortalOpsTests {
    // MARK: self-registration demographics

    @Test(
        "register complete stores the name and birth date encrypted in the patient index: the front desk finds the new patient; malformed values create nothing"
    )
    func registrationStoresDemographics() async throws {
        let fixture = try await PortalFixture.make(patients: 5)
        defer { Task { await fixture.close() } }
        let portal = fixture.portal
        let chosen = "Quartz-lantern-Meadow-5519-ochre"

        // Malformed values are refused before any account exists.
        let malformed: [(String?, String?, String)] = [
            ("   ", nil, "name"), ("Zed\u{0}Newcomer", nil, "name"),
            (String(repeating: "z", count: Portal.maximumNameLength + 1), nil, "name"),
            (nil, "1990-02-30", "birth date"), (nil, "1990-5-17", "birth date"), (nil, "2999-01-01", "birth date"),
            (nil, "١٩٩٠-٠٥-١٧", "birth date"),
        ]
        for (name, born, what) in malformed {
            let token = try await portal.beginRegistration()
            await #expect(
                throws: PortalError.invalidInput(what), "\(String(describing: name)) \(String(describing: born))"
            ) {
                try await portal.completeRegistration(
                    token: token, loginName: "zed", password: chosen, clientAddress: "ws-zed", name: name,
                    birthDate: born)
            }
        }
        #expect(try await portal.accounts.account(loginName: try LoginName("zed")) == nil)

        let token = try await portal.beginRegistration()
        try await portal.completeRegistration(
            token: token, loginName: "zed", password: chosen, clientAddress: "ws-zed", name: "  Zed Newcomer ",
            birthDate: "1990-05-17")
        let account = try #require(try await portal.accounts.account(loginName: try LoginName("zed")))
        let patientID = try #require(account.patientID)
        // The creation is audited: by the new account, which fields (never their values), as a claim.
        let created = try await fixture.auditRecords().filter {
            $0.event.reason == "self-registration" && $0.event.patientID == patientID
        }
        #expect(created.count == 1)
        #expect(created.first?.event.resourceType == "patient-index" && created.first?.event.actorID == account.id)
        #expect(created.first?.event.fields == ["birth-date", "name"])

        // The front desk finds the new patient by name (case-insensitively) and by birth date.
        let desk = try await fixture.signIn("desk.dan")
        let byName = try await portal.listPatients(token: desk, search: PatientSearch(name: "ZED NEWCOMER")).patients
        #expect(byName.map(\.patientID) == [patientID])
        #expect(byName.first?.fields["name"] == "Zed Newcomer" && byName.first?.fields["birth-date"] == "1990-05-17")
        let byBirth = try await portal.listPatients(token: desk, search: PatientSearch(birthDate: "1990-05-17"))
        #expect(byBirth.patients.map(\.patientID).contains(patientID))

        // Encrypted at rest: the name is not in the database file in clear.
        try await portal.audit.flush()
        for file in ["portal.sqlite", "portal.sqlite-wal"] {
            let url = fixture.directory.appendingPathComponent(file)
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            #expect(try Data(contentsOf: url).range(of: Data("Zed Newcomer".utf8)) == nil, "\(file)")
        }

        // Without the values, the record is created empty as before.
        let plain = try await portal.beginRegistration()
        try await portal.completeRegistration(token: plain, loginName: "yan", password: chosen, clientAddress: "ws-yan")
        #expect(try await portal.accounts.account(loginName: try LoginName("yan"))?.patientID != nil)
    }
}

extension PortalOpsTests {
    // MARK: seed audit

    @Test("seed: one audit event per seeded account and table, by actor system with action seed; the chain verifies")
    func seedIsAudited() async throws {
        let fixture = try await PortalFixture.make(patients: 5)
        defer { Task { await fixture.close() } }
        let seeded = try await fixture.auditRecords().filter {
            $0.event.actorID == "system" && $0.event.action == "seed"
        }
        let accounts = seeded.filter { $0.event.resourceType == "user-account" }
        #expect(accounts.count == PortalSeed.accounts.count)
        let grey = try await Self.accountID(fixture, "dr.grey")
        #expect(accounts.contains { $0.event.resourceID == grey && $0.event.attributes["roles"] == "physician" })
        var tables: [String: String] = [:]
        for record in seeded where record.event.resourceType != "user-account" {
            tables[record.event.resourceType ?? "?"] = record.event.attributes["records"]
        }
        #expect(tables == ["patient-index": "5", "chart": "5", "clinical-note": "6", "message": "4"])
        #expect(seeded.allSatisfy { $0.event.outcome == .allow && $0.event.patientID == nil })
        let auditor = try await fixture.signIn("audit.ada")
        #expect(try await fixture.portal.verifyAuditLog(token: auditor).isIntact)
    }
}

extension PortalOpsTests {
    // MARK: seams

    @Test("seam: a break-glass grant for one patient, handed to the guarded note read of another, opens nothing")
    func grantForAnotherPatientOpensNothing() async throws {
        let fixture = try await PortalFixture.make(patients: 5)
        defer { Task { await fixture.close() } }
        let portal = fixture.portal
        // nurse.joy's care team is p-1 and p-4…p-40: p-2 and p-3 are not on it.
        let nurse = try await fixture.signIn("nurse.joy")
        _ = try await portal.breakGlass(
            token: nurse, patientID: "p-3", reasonCode: "ETREAT", justification: "collapsed in the corridor")
        let principal = try await portal.session(nurse).principal
        let grant = try #require(try await portal.emergency.activeGrant(for: principal, patientID: "p-3"))

        // The grant works where it was given (the positive control)…
        let opened = try await portal.notes.read("note-p-3-1", as: principal, breakGlass: grant)
        #expect(opened.patientID == "p-3")
        // …and not for p-2's note, at the guarded layer or through the portal.
        await #expect(throws: RecordError.notFoundOrDenied) {
            _ = try await portal.notes.read("note-p-2-1", as: principal, breakGlass: grant)
        }
        let listed = try await portal.notes.list(
            as: principal, where: [.patient("p-2")], limit: 50, after: nil, breakGlass: grant)
        #expect(listed.records.isEmpty)
        #expect(try await portal.notes(token: nurse, patientID: "p-2").isEmpty)
        await #expect(throws: ResourceNotFound.self) {
            _ = try await portal.note(token: nurse, patientID: "p-2", noteID: "note-p-2-1")
        }
        let denied = try await fixture.auditRecords().filter {
            $0.event.kind == .accessDecision && $0.event.resourceID == "note-p-2-1" && $0.event.outcome == .deny
        }
        #expect(!denied.isEmpty)
    }
}

extension PortalOpsTests {
    @Test(
        "seam: mfa confirm racing a password sign-in of the same account: no session is multi-factor without a code; no crash"
    )
    func enrolmentRacingSignIn() async throws {
        let fixture = try await PortalFixture.make(patients: 5)
        defer { Task { await fixture.close() } }
        let portal = fixture.portal
        for round in 0..<4 {
            let name = "gil\(round)"
            try await PortalAccountTests.registerPasswordOnly(portal, name, address: "ws-\(name)")
            let passwordOnly = try await PortalAccountTests.signInPasswordOnly(portal, name, address: "ws-\(name)")
            let pending = try await portal.beginSecondFactorEnrollment(token: passwordOnly)
            let code = try pending.totp.code(at: Date())
            async let confirmed: Void = portal.confirmSecondFactorEnrollment(
                token: passwordOnly, pending: pending, code: code)
            async let racing = portal.signIn(
                loginName: name, password: try PasswordSecret(PortalAccountTests.newPassword),
                clientAddress: "ws-\(name)-race")
            try await confirmed
            let outcome = try await racing
            let account = try #require(try await portal.accounts.account(loginName: try LoginName(name)))
            #expect(account.totp?.secret == pending.totp.secret)
            switch outcome {
            case .signedIn(let token, let identity):
                // Signed in before the authenticator was stored: a password-only session, and so it stays.
                #expect(identity.strength == "single-factor")
                if let session = try? await portal.session(token) {
                    #expect(session.principal.strength == .singleFactor)
                }
            case .needsSecondFactor(let token):
                // After it was stored: a pending session that a wrong or replayed code does not complete.
                await #expect(throws: (any Error).self) {
                    _ = try await portal.verifySecondFactor(token: token, code: "000000", clientAddress: "ws-r")
                }
                await #expect(throws: (any Error).self) {
                    _ = try await portal.verifySecondFactor(token: token, code: code, clientAddress: "ws-r")
                }
            }
            // The enrolling session was not upgraded by the confirmation.
            let enrolling = try await portal.flow.resume(passwordOnly)
            if case .authenticated(let session) = enrolling { #expect(session.principal.strength == .singleFactor) }
        }
    }
}

/// The same checks with every store in PostgreSQL (skipped without `PHIGUARD_POSTGRES_URL`).
@Suite(
    "PortalCore audit export, exports, temporary passwords, registration (PostgreSQL, verified TLS)", .serialized,
    .enabled(if: PortalTestDatabase.enabled))
struct PortalOpsPostgresTests {
    private func onPostgres(_ body: (PortalOpsTests) async throws -> Void) async throws {
        try await PortalFixture.$onPostgres.withValue(true) { try await body(PortalOpsTests()) }
    }

    @Test("audit export by the auditor (PostgreSQL)")
    func auditorExportsTheLog() async throws { try await onPostgres { try await $0.auditorExportsTheLog() } }

    @Test("audit export refused for other roles (PostgreSQL)")
    func auditExportRefused() async throws { try await onPostgres { try await $0.auditExportRefused() } }

    @Test("chart export holds the notes and messages the exporter may read (PostgreSQL)")
    func exportHoldsVisibleNotesAndMessages() async throws {
        try await onPostgres { try await $0.exportHoldsVisibleNotesAndMessages() }
    }

    @Test("temporary password: nothing until changed (PostgreSQL)")
    func temporaryPasswordMustBeChanged() async throws {
        try await onPostgres { try await $0.temporaryPasswordMustBeChanged() }
    }

    @Test("registration stores name and birth date (PostgreSQL)")
    func registrationStoresDemographics() async throws {
        try await onPostgres { try await $0.registrationStoresDemographics() }
    }

    @Test("seed is audited (PostgreSQL)")
    func seedIsAudited() async throws { try await onPostgres { try await $0.seedIsAudited() } }
}
