import Foundation
import PHIGuardTestSupport
import Testing

/// `phiguard policy …` end to end, running the built binary on the sample hospital policy.
@Suite struct PolicyCLITests {
    static let hospital = Fixture.repositoryRoot.appendingPathComponent("Examples/Policies/hospital.yaml").path
    static let hospitalTests = Fixture.repositoryRoot.appendingPathComponent("Examples/Policies/hospital-tests.yaml")
        .path

    /// Runs the `phiguard` built next to this test bundle.
    func phiguard(_ arguments: [String], input: String = "") throws -> BuiltProduct.Run {
        try BuiltProduct.run("phiguard", arguments, input: input)
    }

    static let nurseRequest = """
        {"subject":{"id":"u-n","roles":["nurse"],"careTeamPatients":["p-alice"]},"action":"read",\
        "resource":{"type":"chart","id":"c-1","patientID":"p-alice"},"time":"2026-01-15T12:00:00Z"}
        """
    static let strangerRequest = """
        {"subject":{"id":"u-n","roles":["nurse"],"careTeamPatients":["p-alice"]},"action":"read",\
        "resource":{"type":"chart","id":"c-2","patientID":"p-bob"},"time":"2026-01-15T12:00:00Z"}
        """

    @Test func validateAcceptsTheSamplePolicy() throws {
        let run = try phiguard(["policy", "validate", Self.hospital])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("valid (10 roles, 9 resource types"))
        let json = try phiguard(["policy", "validate", Self.hospital, "--json"])
        #expect(json.stdout.contains(#""valid":true"#))
    }

    @Test func validateListsEveryProblemWithLocations() throws {
        let broken = Fixture.url("access/broken-policies/many-errors.yaml").path
        let run = try phiguard(["policy", "validate", broken])
        #expect(run.status == 65)
        let lines = run.stderr.split(separator: "\n").filter { $0.hasPrefix(broken) }
        #expect(lines.count == 6, "\(run.stderr)")
        #expect(lines.first?.contains(":9:16: unknownRole") == true, "\(run.stderr)")
        let json = try phiguard(["policy", "validate", broken, "--json"])
        #expect(json.status == 65)
        #expect(json.stdout.contains(#""code":"unknownField""#))
        #expect(try phiguard(["policy", "validate", "/nonexistent/policy.yaml"]).status == 66)
    }

    /// Writes `bytes` to a new temporary file and returns its path.
    func temporaryFile(_ bytes: [UInt8]) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("policy-\(UUID().uuidString).yaml")
        try Data(bytes).write(to: url)
        return url.path
    }

    @Test("File-level problems carry 1:1, bad bytes and control characters their position; all are located")
    func fileLevelProblemsAreLocated() throws {
        let cases: [(bytes: [UInt8], expected: String)] = [
            ([], ":1:1: schema: the policy file is empty"),
            (Array("version: 1\nroles: [\u{1}]\n".utf8), ":2:9: syntax: control characters are not allowed"),
            (Array("version: 1\nroles: [".utf8) + [0xFF, 0x5D, 0x0A], ":2:9: syntax: the policy file is not UTF-8"),
            ([0xC3], ":1:1: syntax: the policy file is not UTF-8"),
            (Array(repeating: UInt8(ascii: "#"), count: 4 * 1024 * 1024 + 1), ":1:1: tooLarge: "),
        ]
        for (bytes, expected) in cases {
            let path = try temporaryFile(bytes)
            defer { try? FileManager.default.removeItem(atPath: path) }
            let run = try phiguard(["policy", "validate", path])
            #expect(run.status == 65, "\(expected): \(run.status)")
            #expect(run.stderr.hasPrefix(path + expected), "\(run.stderr)")
            let json = try phiguard(["policy", "validate", path, "--json"])
            let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
            let problems = try #require(report?["problems"] as? [[String: Any]], "\(json.stdout)")
            #expect(problems.count == 1)
            #expect(problems.allSatisfy { $0["line"] is Int && $0["column"] is Int }, "\(json.stdout)")
        }
    }

    @Test("A file with 130,000 problems prints the first 100 and a count, not megabytes")
    func problemsAreCapped() throws {
        // Each unknown top-level key is a problem: before the cap this printed about 20 MB.
        let text = "version: 1\n" + (0..<130_000).map { "k\($0): 1\n" }.joined()
        let path = try temporaryFile(Array(text.utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try phiguard(["policy", "validate", path])
        #expect(run.status == 65)
        #expect(run.stderr.utf8.count < 32 * 1024, "\(run.stderr.utf8.count) bytes of problems")
        let lines = run.stderr.split(separator: "\n")
        let located = lines.filter { $0.hasPrefix(path + ":") && $0.dropFirst(path.count + 1).first?.isNumber == true }
        #expect(located.count == 100)
        #expect(lines.contains { $0 == "\(path): 129903 more problem(s) not shown" }, "\(lines.suffix(2))")
        #expect(lines.last == "phiguard: \(path): 130003 problem(s); policy not loaded")
        let json = try phiguard(["policy", "validate", path, "--json"])
        #expect(json.stdout.utf8.count < 32 * 1024)
        let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect((report?["problems"] as? [Any])?.count == 100)
        #expect(report?["moreProblems"] as? Int == 129_903)
    }

    @Test func checkAllowsAndDeniesWithExitCodes() throws {
        let allowed = try phiguard(["policy", "check", Self.hospital, "--request", Self.nurseRequest, "--json"])
        #expect(allowed.status == 0, "\(allowed.stderr)")
        #expect(allowed.stdout.contains(#""allowed":true"#))
        #expect(!allowed.stdout.contains(#""billing""#))
        #expect(
            allowed.stdout.contains(#""rules":["clinician-reads-chart","clinician-never-sees-billing-field"]"#)
                || allowed.stdout.contains(#""rules":["clinician-never-sees-billing-field","clinician-reads-chart"]"#))
        let denied = try phiguard(["policy", "check", Self.hospital, "--request", Self.strangerRequest])
        #expect(denied.status == 1)
        #expect(denied.stdout.hasPrefix("deny (conditionNotMet)"))
        let malformed = try phiguard(["policy", "check", Self.hospital, "--request", #"{"subject": 3}"#])
        #expect(malformed.status == 65)
        #expect(malformed.stderr.contains("malformed request JSON"))
        #expect(try phiguard(["policy", "check", Self.hospital]).status == 64)
    }

    @Test func batchPrintsOneDecisionPerLine() throws {
        let input = [Self.nurseRequest, Self.strangerRequest, "", Self.nurseRequest].joined(separator: "\n") + "\n"
        let run = try phiguard(["policy", "check", Self.hospital, "--batch"], input: input)
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines.map { $0.contains(#""allowed":true"#) } == [true, false, true])

        let bad = try phiguard(
            ["policy", "check", Self.hospital, "--batch"],
            input: "\(Self.nurseRequest)\nnot json\n\(Self.strangerRequest)\n")
        #expect(bad.status == 65)
        let badLines = bad.stdout.split(separator: "\n")
        #expect(badLines.count == 3)
        #expect(badLines[1].contains(#""line":2"#))
        #expect(badLines[2].contains(#""allowed":false"#))
    }

    @Test func explainNamesTheRules() throws {
        let run = try phiguard(["policy", "explain", Self.hospital, "--request", Self.strangerRequest])
        #expect(run.status == 1)
        #expect(run.stdout.contains("effective roles: clinician, nurse, staff"))
        #expect(run.stdout.contains("allow clinician-reads-chart [clinician]: condition not met"))
        #expect(run.stdout.contains("allow patient-reads-own-chart [patient]: role not held"))
        let json = try phiguard(["policy", "explain", Self.hospital, "--request", Self.nurseRequest, "--json"])
        #expect(json.status == 0)
        #expect(json.stdout.contains(#""conditionHeld":true"#))
    }

    @Test func planPrintsTheRowConditionAndParameterisedSQL() throws {
        let patient = try phiguard([
            "policy", "plan", Self.hospital, "--role", "patient", "--action", "read", "--type", "chart",
        ])
        #expect(patient.status == 0)
        #expect(patient.stdout.contains("plan read chart: conditional"))
        #expect(
            patient.stdout.contains("SQL (postgres): WHERE (chart.patient_id IS NOT NULL AND chart.patient_id = $1)"))
        #expect(patient.stdout.contains("$1 = '$subject.patientID'"))
        let nurse = try phiguard([
            "policy", "plan", Self.hospital, "--role", "nurse", "--action", "read", "--type", "chart", "--dialect",
            "sqlite", "--json",
        ])
        #expect(nurse.status == 0)
        #expect(nurse.stdout.contains("care_team.subject_id = ?"))
        #expect(nurse.stdout.contains("chart.patient_id IN (SELECT care_team.patient_id FROM care_team WHERE"))
        // PostgreSQL: an InitPlan array probed through the patient-id index (see `CareTeamTable`).
        let nursePostgres = try phiguard([
            "policy", "plan", Self.hospital, "--role", "nurse", "--action", "read", "--type", "chart",
        ])
        #expect(nursePostgres.status == 0)
        #expect(
            nursePostgres.stdout.contains(
                "SQL (postgres): WHERE (chart.patient_id IS NOT NULL AND chart.patient_id <> '' AND chart.patient_id = "
                    + "ANY (ARRAY(SELECT care_team.patient_id FROM care_team WHERE care_team.subject_id = $1 "
                    + "AND care_team.patient_id IS NOT NULL)))"))
        #expect(nursePostgres.stdout.contains("$1 = '$subject'"))
        let stranger = try phiguard([
            "policy", "plan", Self.hospital, "--role", "nobody", "--action", "read", "--type", "chart",
        ])
        #expect(stranger.stdout.contains("plan read chart: never"))
        #expect(stranger.stdout.contains("WHERE (1 = 0)"))
    }

    @Test func testRunsTheSampleExpectations() throws {
        let run = try phiguard(["policy", "test", Self.hospital, Self.hospitalTests])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("16 passed, 0 failed"))
    }

    @Test func testFailsOnAWrongExpectation() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("phiguard-policy-\(UUID()).yaml")
        defer { try? FileManager.default.removeItem(at: file) }
        try """
        tests:
          - name: clerk sees clinical fields (wrong on purpose)
            request:
              subject: {id: u, roles: [billing-clerk]}
              action: read
              resource: {type: chart}
            expect: {allowed: true, fields: [demographics, problems]}
        """.write(to: file, atomically: true, encoding: .utf8)
        let run = try phiguard(["policy", "test", Self.hospital, file.path])
        #expect(run.status == 1)
        #expect(run.stdout.contains("FAIL clerk sees clinical fields"))
        #expect(run.stdout.contains("0 passed, 1 failed"))
        try "tests: 7".write(to: file, atomically: true, encoding: .utf8)
        #expect(try phiguard(["policy", "test", Self.hospital, file.path]).status == 65)
    }
}
