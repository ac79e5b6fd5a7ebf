import Foundation
import PHIGuardTOTP
import PHIGuardTestSupport
import Testing

/// Runs the built `PatientPortal` example end to end on a real SQLite file, as `make demo` does.
@Suite("PatientPortal example, end to end", .serialized)
struct PatientPortalTests {
    /// One portal in a temporary directory, initialised with a random demo password.
    struct Portal {
        let directory: URL
        let password = "planted-\(UUID().uuidString)"

        var database: String { directory.appendingPathComponent("portal.sqlite").path }
        var keys: String { directory.appendingPathComponent("keys").path }
        var sessionFile: String { directory.appendingPathComponent("session").path }

        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("phiguard-portal-\(UUID())")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let initialised = try run(["init", "--patients", "20"], input: password + "\n")
            #expect(initialised.status == 0, "\(initialised.stderr)")
        }

        func run(_ arguments: [String], input: String = "") throws -> BuiltProduct.Run {
            try BuiltProduct.run(
                "PatientPortal",
                arguments + ["--database", database, "--keys", keys, "--session-file", sessionFile], input: input)
        }

        func signIn(_ user: String) throws -> BuiltProduct.Run {
            let code = try run(["totp-code", "--account", user])
            #expect(code.status == 0, "\(code.stderr)")
            return try run(["login", "--user", user], input: password + "\n" + code.stdout)
        }

        func remove() { try? FileManager.default.removeItem(at: directory) }
    }

    /// The public line without its correlation reference (which differs on every run).
    static func withoutReference(_ text: String) -> String {
        text.replacingOccurrences(of: #", ref [0-9a-f-]+\]"#, with: "]", options: .regularExpression)
    }

    static func sqlite(_ database: String, _ statement: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sqlite3", database, statement]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "sqlite3 failed")
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("a negative TOTP step written into the database is a refusal, never a crash")
    func corruptTOTPStep() throws {
        let portal = try Portal()
        defer { portal.remove() }
        #expect(try portal.signIn("alice").status == 0)
        #expect(try portal.run(["logout"]).status == 0)
        _ = try Self.sqlite(portal.database, "UPDATE phiguard_totp_replay SET last_step = -1")
        // Both readers of the stored step: the demo authenticator and the sign-in's second factor.
        let code = try portal.run(["totp-code", "--account", "alice"])
        let login = try portal.run(["login", "--user", "alice"], input: portal.password + "\n123456\n")
        for run in [code, login] {
            #expect(run.status != 0)
            let output = run.stdout + run.stderr
            for leak in ["Fatal error", "Backtrace", "runtime failure", ".swift", "/work/", "Sources/"] {
                #expect(!output.contains(leak), "output leaks \(leak): \(output)")
            }
        }
        #expect(try portal.run(["chart"]).status == 3)  // nobody is signed in
    }

    @Test("a patient signs in with password and TOTP, reads their own chart and not another's; the log verifies")
    func patientWalk() throws {
        let portal = try Portal()
        defer { portal.remove() }

        let login = try portal.signIn("alice")
        #expect(login.status == 0, "\(login.stderr)")
        #expect(login.stdout.contains("multi-factor"))
        let cookie = try String(contentsOfFile: portal.sessionFile, encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(cookie.utf8.count == 43)
        let mode = try FileManager.default.attributesOfItem(atPath: portal.sessionFile)[.posixPermissions] as? Int
        #expect(mode == 0o600)

        let own = try portal.run(["chart"])
        #expect(own.status == 0, "\(own.stderr)")
        #expect(own.stdout.contains("demographics: Alice Example, born 1984-03-07"))
        #expect(own.stdout.contains("medications: Salbutamol"))

        // IDOR: another patient's chart is refused exactly like a chart that does not exist.
        let other = try portal.run(["chart", "--patient", "p-2"])
        let missing = try portal.run(["chart", "--patient", "p-404"])
        #expect(other.status == 1)
        #expect(other.stdout.isEmpty)
        #expect(other.stderr.contains("Not found: The requested resource was not found. [not_found, ref "))
        #expect(Self.withoutReference(other.stderr) == Self.withoutReference(missing.stderr))
        for phi in ["Bob Sample", "1971-11-23", "Metformin", "Mill Road"] {
            #expect(!other.stdout.contains(phi) && !other.stderr.contains(phi))
        }

        // Nothing secret in clear in the database (and its WAL, and the log beside it): not the
        // password, not the cookie, not PHI.
        let files = try FileManager.default.contentsOfDirectory(atPath: portal.directory.path)
            .filter { $0.hasPrefix("portal.sqlite") }
        #expect(files.contains("portal.sqlite") && files.contains("portal.sqlite.log"))
        for file in files {
            let contents = try Data(contentsOf: portal.directory.appendingPathComponent(file))
            for planted in [portal.password, cookie, "Alice Example", "Salbutamol", "Harbour Lane"] {
                #expect(contents.range(of: Data(planted.utf8)) == nil, "found \(planted.prefix(8))… in \(file)")
            }
        }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: portal.database))
        #expect(bytes.range(of: Data("$argon2id$".utf8)) != nil)  // passwords only as Argon2id hashes
        #expect(bytes.range(of: Data("phgf:".utf8)) != nil)  // PHI and TOTP secrets only as envelopes

        #expect(try portal.run(["sessions"]).stdout.contains("* s-"))
        #expect(try portal.run(["logout"]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: portal.sessionFile))
        #expect(try portal.run(["chart"]).status == 3)

        // The denial is on record, and the whole log verifies with the admin CLI.
        let denials = try Self.sqlite(
            portal.database,
            "SELECT count(*) FROM audit_records WHERE kind='access.decision' AND outcome='deny' AND patient_id='p-2'")
        #expect(denials == "1")
        let verify = try BuiltProduct.run(
            "phiguard", ["audit", "verify", "--sqlite", portal.database, "--keys", portal.keys])
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        #expect(verify.stdout.hasPrefix("intact: "))
        let export = try BuiltProduct.run(
            "phiguard", ["audit", "export", "--sqlite", portal.database, "--format", "fhir"])
        #expect(export.status == 0)
        #expect(export.stdout.split(separator: "\n").allSatisfy { $0.contains(#""resourceType":"AuditEvent""#) })

        // Tamper: turn the recorded denial into an allow. Verification names the row.
        let position = try Self.sqlite(
            portal.database, "SELECT position - 1 FROM audit_records WHERE outcome='deny' AND patient_id='p-2'")
        _ = try Self.sqlite(portal.database, "UPDATE audit_records SET outcome='allow' WHERE patient_id='p-2'")
        let broken = try BuiltProduct.run(
            "phiguard", ["audit", "verify", "--sqlite", portal.database, "--keys", portal.keys])
        #expect(broken.status == 1)
        #expect(broken.stdout.contains("broken: modified at position \(position),"), "\(broken.stdout)")
    }

    @Test("a registration session has no principal: it cannot read a chart (OpenEMR CVE-2018-15152)")
    func registrationCannotReadCharts() throws {
        let portal = try Portal()
        defer { portal.remove() }
        let begun = try portal.run(["register", "begin"])
        #expect(begun.status == 0, "\(begun.stderr)")
        #expect(FileManager.default.fileExists(atPath: portal.sessionFile))

        let chart = try portal.run(["chart", "--patient", "p-1"])
        #expect(chart.status == 3)
        #expect(chart.stdout.isEmpty)
        #expect(chart.stderr.contains("Authentication failed: The credentials could not be verified."))
        #expect(!chart.stderr.contains("Alice"))
        #expect(try portal.run(["whoami"]).stdout.contains("registering (no principal)"))

        // The attempt is on record as a denied read from that session.
        let reason = try Self.sqlite(
            portal.database, "SELECT reason FROM audit_records WHERE kind='access.decision' AND outcome='deny'")
        #expect(reason == "no-principal-registering")
        let verify = try BuiltProduct.run(
            "phiguard", ["audit", "verify", "--sqlite", portal.database, "--keys", portal.keys])
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
    }

    @Test("registration enrols TOTP, then still needs the full sign-in; the confirmation code cannot sign in")
    func registrationCompletes() throws {
        let portal = try Portal()
        defer { portal.remove() }
        #expect(try portal.run(["register", "begin"]).status == 0)
        let chosen = "new-\(UUID().uuidString)"
        var enrolled: TOTP?
        var confirmation = ""
        let completed = try BuiltProduct.converse(
            "PatientPortal",
            [
                "register", "complete", "--user", "dana", "--database", portal.database, "--keys", portal.keys,
                "--session-file", portal.sessionFile,
            ],
            input: chosen + "\n"
        ) { printed in
            // Answer with the code of the authenticator the portal shows, as an app would.
            guard let line = printed.split(separator: "\n").first(where: { $0.hasPrefix("otpauth://") }),
                let uri = try? OTPAuthURI(parsing: String(line)), let code = try? uri.totp.code(at: Date())
            else { return nil }
            enrolled = uri.totp
            confirmation = code
            return code
        }
        #expect(completed.status == 0, "\(completed.stderr)")
        #expect(completed.stdout.contains("Registration confirmed. If the name was free, the account is created"))
        let totp = try #require(enrolled)
        #expect(!FileManager.default.fileExists(atPath: portal.sessionFile))  // registration signs no one in

        // The confirmation code was spent on enrolment: it cannot complete a sign-in.
        let replay = try portal.run(["login", "--user", "dana"], input: chosen + "\n" + confirmation + "\n")
        #expect(replay.status == 3, "\(replay.stderr)")
        #expect(replay.stderr.contains("Authentication failed"))

        // The next step's code (inside the ±1 step window), with the password, does.
        let next = try totp.code(at: Date().addingTimeInterval(30))
        let signedIn = try portal.run(["login", "--user", "dana"], input: chosen + "\n" + next + "\n")
        #expect(signedIn.status == 0, "\(signedIn.stderr)")
        let whoami = try portal.run(["whoami"])
        #expect(whoami.stdout.hasPrefix("Signed in as account a-"), "\(whoami.stdout)")
        // A self-registered account is a patient, linked to a patient record the server created.
        #expect(whoami.stdout.contains("  roles: patient\n"), "\(whoami.stdout)")
        let patient = try #require(whoami.stdout.firstMatch(of: /[ ]{2}patient: (p-[0-9a-f]{20})\n/)?.1)
        let chart = try portal.run(["chart"])
        #expect(chart.status == 0, "\(chart.stderr)")
        #expect(chart.stdout.hasPrefix("Chart \(patient) "), "\(chart.stdout)")
    }

    @Test("registering a taken name or a look-alike of one prints the free name's answer and takes nothing over")
    func registrationDoesNotTellTaken() throws {
        let portal = try Portal()
        defer { portal.remove() }
        let chosen = "taken-\(UUID().uuidString)"
        var answers: [String] = []
        // A free name, a seeded one in another spelling, and a look-alike (digit 1 for l) of a seeded one.
        for user in ["erin", " ALICE", "caro1", "bob"] {
            #expect(try portal.run(["register", "begin"]).status == 0)
            let completed = try BuiltProduct.converse(
                "PatientPortal",
                [
                    "register", "complete", "--user", user, "--database", portal.database, "--keys", portal.keys,
                    "--session-file", portal.sessionFile,
                ],
                input: chosen + "\n"
            ) { printed in
                guard let line = printed.split(separator: "\n").first(where: { $0.hasPrefix("otpauth://") }),
                    let uri = try? OTPAuthURI(parsing: String(line)), let code = try? uri.totp.code(at: Date())
                else { return nil }
                return code
            }
            #expect(completed.status == 0, "\(user): \(completed.stderr)")
            // Everything printed, but the authenticator's URI (a fresh secret each time), with the name masked.
            let shown = completed.stdout.split(separator: "\n").filter { !$0.hasPrefix("otpauth://") }
                .joined(separator: "\n").replacingOccurrences(of: user, with: "NAME")
            answers.append(shown)
        }
        #expect(Set(answers).count == 1, "\(answers)")
        #expect(answers.first?.contains("Registration confirmed. If the name was free") == true)
        // alice still signs in with her own password, and not with the one the second registration chose.
        #expect(try portal.signIn("alice").status == 0)
        let takeover = try portal.run(["login", "--user", "alice"], input: chosen + "\n000000\n")
        #expect(takeover.status == 3, "\(takeover.stderr)")
    }

    @Test("a wrong password and an unknown user print the identical message")
    func uniformRejection() throws {
        let portal = try Portal()
        defer { portal.remove() }
        let wrongPassword = try portal.run(["login", "--user", "alice"], input: "not-the-password\n000000\n")
        let unknownUser = try portal.run(["login", "--user", "mallory"], input: "not-the-password\n000000\n")
        #expect(wrongPassword.status == 3)
        #expect(unknownUser.status == 3)
        #expect(wrongPassword.stdout.isEmpty && unknownUser.stdout.isEmpty)
        #expect(wrongPassword.stderr.hasPrefix("PatientPortal: Authentication failed: "))
        #expect(Self.withoutReference(wrongPassword.stderr) == Self.withoutReference(unknownUser.stderr))
        // The reasons differ only in the audit log.
        let reasons = try Self.sqlite(
            portal.database, "SELECT reason FROM audit_records WHERE kind='login.failed' ORDER BY position")
        #expect(reasons == "wrong-password\nunknown-account")
    }

    @Test("lockout counters survive between runs: after the free failures, the next attempt must wait")
    func lockoutPersists() throws {
        let portal = try Portal()
        defer { portal.remove() }
        // Five free failures and a sixth that imposes a 1 s delay, each in a process of its own.
        for _ in 1...6 {
            let attempt = try portal.run(["login", "--user", "alice"], input: "not-the-password\n")
            #expect(attempt.status == 3, "\(attempt.stderr)")
        }
        // Counters kept in memory would start afresh here. The delays double (1 s, 2 s, 4 s, ...), so
        // one of the next runs arrives within its delay even on a slow machine. Ten attempts stay
        // within the per-address burst of 10, so the refusal comes from the lockout counters.
        var statuses: [Int32] = []
        for _ in 7...10 {
            let attempt = try portal.run(["login", "--user", "alice"], input: "not-the-password\n")
            statuses.append(attempt.status)
            if attempt.status == 4 {
                #expect(attempt.stderr.hasPrefix("PatientPortal: Too many requests"), "\(attempt.stderr)")
                break
            }
        }
        #expect(statuses.last == 4, "statuses of runs 7-10: \(statuses)")
        let reasons = try Self.sqlite(
            portal.database, "SELECT reason FROM audit_records WHERE kind='login.failed' ORDER BY position")
        #expect(reasons.split(separator: "\n").last == "throttled", "\(reasons)")
        #expect(!reasons.contains("rate-limited"))
    }

    @Test("a physician reads charts of their care team only, without the billing field")
    func physicianCareTeam() throws {
        let portal = try Portal()
        defer { portal.remove() }
        #expect(try portal.signIn("dr.grey").status == 0)
        let chart = try portal.run(["chart", "--patient", "p-2"])
        #expect(chart.status == 0, "\(chart.stderr)")
        #expect(chart.stdout.contains("medications: Metformin"))
        #expect(!chart.stdout.contains("billing"))
        #expect(try portal.run(["chart", "--patient", "p-3"]).status == 1)
    }
}
