import Foundation
import PHIGuardTestSupport
import Testing

/// `PatientPortal audit verify|review|export` and `PatientPortal shell`, through the built binary on a real SQLite file.
@Suite("PatientPortal audit and shell commands, end to end", .serialized)
struct PatientPortalAuditShellTests {
    typealias Portal = PatientPortalTests.Portal

    @Test("audit verify: a patient is refused (and audited); the auditor sees intact, then BROKEN with exit 2")
    func auditVerify() throws {
        let portal = try Portal()
        defer { portal.remove() }

        #expect(try portal.signIn("alice").status == 0)
        let refused = try portal.run(["audit", "verify"])
        #expect(refused.status == 1, "\(refused.stdout) \(refused.stderr)")
        #expect(!refused.stdout.contains("Audit log"))
        let denials = try PatientPortalTests.sqlite(
            portal.database,
            "SELECT count(*) FROM audit_records WHERE kind='access.decision' AND outcome='deny' "
                + "AND resource_type='audit-log'")
        #expect(denials == "1")
        #expect(try portal.run(["audit", "review"]).status == 1)
        #expect(try portal.run(["logout"]).status == 0)

        #expect(try portal.signIn("audit.ada").status == 0)
        let intact = try portal.run(["audit", "verify"])
        #expect(intact.status == 0, "\(intact.stdout) \(intact.stderr)")
        #expect(intact.stdout.hasPrefix("Audit log intact: "), "\(intact.stdout)")
        let review = try portal.run(["audit", "review"])
        #expect(review.status == 0, "\(review.stderr)")
        #expect(review.stdout.contains("break-glass grant(s) to review"))
        #expect(review.stdout.contains("Audit log intact: "))

        // Tamper: turn the patient's recorded denial into an allow.
        _ = try PatientPortalTests.sqlite(
            portal.database,
            "UPDATE audit_records SET outcome='allow' WHERE resource_type='audit-log' AND outcome='deny'")
        let broken = try portal.run(["audit", "verify"])
        #expect(broken.status == 2, "\(broken.stdout) \(broken.stderr)")
        #expect(broken.stdout.hasPrefix("Audit log BROKEN: "), "\(broken.stdout)")
        #expect(broken.stdout.contains("modified at position"))
        #expect(try portal.run(["audit", "review"]).status == 2)
    }

    @Test("audit export: the auditor writes FHIR AuditEvent NDJSON into the export folder; a patient is refused")
    func auditExport() throws {
        let portal = try Portal()
        defer { portal.remove() }
        let folder = portal.directory.appendingPathComponent("exports").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let arguments = ["audit", "export", "--export-dir", folder]

        #expect(try portal.signIn("alice").status == 0)
        let refused = try portal.run(arguments + ["--output", "alice.ndjson"])
        #expect(refused.status == 1 && refused.stdout.isEmpty, "\(refused.stdout) \(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/alice.ndjson"))
        #expect(try portal.run(["logout"]).status == 0)

        #expect(try portal.signIn("audit.ada").status == 0)
        let bad = try portal.run(arguments + ["--output", "x.ndjson", "--since", "yesterday"])
        #expect(bad.status != 0 && bad.stdout.isEmpty)
        let traversal = try portal.run(arguments + ["--output", "../escape.ndjson"])
        #expect(traversal.status == 65, "\(traversal.stderr)")
        #expect(!FileManager.default.fileExists(atPath: portal.directory.appendingPathComponent("escape.ndjson").path))
        let exported = try portal.run(arguments + ["--output", "audit.ndjson", "--since", "2000-01-01"])
        #expect(exported.status == 0, "\(exported.stderr)")
        #expect(exported.stdout.hasPrefix("Exported "), "\(exported.stdout)")
        let lines = try String(contentsOfFile: folder + "/audit.ndjson", encoding: .utf8).split(separator: "\n")
        #expect(lines.count > 10)
        #expect(lines.allSatisfy { $0.contains("\"resourceType\":\"AuditEvent\"") })
        let recorded = try PatientPortalTests.sqlite(portal.database, "SELECT count(*) FROM audit_records")
        #expect(Int(recorded).map { $0 >= lines.count } == true)
    }

    @Test(
        "shell: runs whoami and patients for the signed-in user from piped stdin, goes on after a failure, leaves at EOF"
    )
    func shellRunsCommands() throws {
        let portal = try Portal()
        defer { portal.remove() }
        #expect(try portal.signIn("alice").status == 0)

        let run = try portal.run(["shell"], input: "whoami\nbogus\nchart \"p-2\"\npatients\n")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("roles: patient"), "\(run.stdout)")
        #expect(run.stdout.contains("patient: p-1"))
        #expect(run.stdout.contains("p-1  mrn="), "\(run.stdout)")
        #expect(run.stdout.contains("(1 patient(s))"))
        #expect(!run.stdout.contains("p-2"))  // another patient's chart: refused, the shell went on
        #expect(run.stderr.contains("Unexpected argument 'bogus'"), "\(run.stderr)")
        #expect(run.stderr.contains("[not_found, ref "), "\(run.stderr)")
    }

    @Test("shell: login reads the password and code from the shell's stdin; quit leaves before the next line")
    func shellSignsIn() throws {
        let portal = try Portal()
        defer { portal.remove() }
        let code = try portal.run(["totp-code", "--account", "audit.ada"])
        #expect(code.status == 0, "\(code.stderr)")

        let run = try portal.run(
            ["shell"], input: "login --user audit.ada\n\(portal.password)\n\(code.stdout)whoami\nquit\nlogout\n")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("Signed in (session "), "\(run.stdout) \(run.stderr)")
        #expect(run.stdout.contains("roles: auditor"))
        #expect(!run.stdout.contains(portal.password) && !run.stderr.contains(portal.password))
        #expect(!run.stdout.contains("Signed out."))  // `quit` left before `logout`
        #expect(try portal.run(["whoami"]).status == 0)
    }
}
