import Foundation
import PHIGuardTestSupport
import Testing

/// #15 finding 5, the general sweep: values no writer could have stored, written straight into the
/// databases of the built `phiguard` and `PatientPortal` (as a SQL injection elsewhere or a restored
/// backup could), must give a typed refusal, never a trap, a backtrace or a source path.
@Suite("No trap from stored data: corrupt values in the CLI's and the portal's databases", .serialized)
struct StoredDataCrashTests {
    /// What a trap, an assertion or the backtracer prints, and the source paths it would show.
    static let crashMarkers = [
        "Fatal error", "Backtrac", "Program crashed", "runtime failure", "Assertion failed", "Precondition failed",
        ".swift:", "/work/", "Sources/",
    ]

    static func expectNoCrash(_ run: BuiltProduct.Run, _ what: String) {
        #expect(!run.uncaughtSignal, "\(what) died of signal \(run.status)")
        let output = run.stdout + run.stderr
        for marker in crashMarkers {
            #expect(!output.contains(marker), "\(what) printed \(marker): \(output.prefix(800))")
        }
    }

    static func phiguard(_ arguments: [String], input: String = "") throws -> BuiltProduct.Run {
        try BuiltProduct.run("phiguard", arguments, input: input)
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("phiguard-stored-\(UUID())")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Rows of the SQLite audit log made unwritable by any writer: sequences out of 1...2^63−1 (SQLite
    /// keeps them signed, so −1 reads back as 2^64−1), extreme times, `related` references out of
    /// range, a boolean 7, text in an integer column, and the same in the checkpoints table.
    static let auditCorruptions = [
        "UPDATE audit_records SET sequence = -1 WHERE sequence = 6",
        "UPDATE audit_records SET sequence = -2 WHERE sequence = 2",
        "UPDATE audit_records SET sequence = -2 WHERE sequence = 2; UPDATE audit_records SET sequence = -1 WHERE sequence = 3",
        "UPDATE audit_records SET sequence = 0 WHERE sequence = 1",
        "UPDATE audit_records SET sequence = 9223372036854775807 WHERE sequence = 2",
        "UPDATE audit_records SET sequence = -9223372036854775808 WHERE sequence = 4",
        "UPDATE audit_records SET timestamp = 9223372036854775807 WHERE sequence = 2",
        "UPDATE audit_records SET timestamp = -9223372036854775808 WHERE sequence = 2",
        "UPDATE audit_records SET related_sequence = -1 WHERE sequence = 2",
        "UPDATE audit_records SET related_sequence = 0 WHERE sequence = 2",
        "UPDATE audit_records SET break_glass = 7 WHERE sequence = 6",
        "UPDATE audit_records SET timestamp = 'x' WHERE sequence = 2",
        "UPDATE audit_checkpoints SET sequence = -1",
        "UPDATE audit_checkpoints SET timestamp = -9223372036854775808",
    ]

    @Test("phiguard audit verify, export, unreviewed and append on a corrupted SQLite log", arguments: auditCorruptions)
    func auditSQLite(corruption: String) throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = directory.appendingPathComponent("keys").path
        let database = directory.appendingPathComponent("audit.sqlite").path
        #expect(try Self.phiguard(["audit", "keygen", "--output", keys]).status == 0)
        let appended = try Self.phiguard(
            ["audit", "append", "--sqlite", database, "--keys", keys], input: AuditCLITests.events(6))
        #expect(appended.status == 0, "\(appended.stderr)")
        #expect(try AuditCLITests.sqlite3(database, corruption).status == 0)
        let verify = try Self.phiguard(["audit", "verify", "--sqlite", database, "--keys", keys])
        Self.expectNoCrash(verify, "audit verify")
        #expect(verify.status == 1, "a corrupted log must not verify: \(verify.stdout)")
        for command in [["export"], ["unreviewed"]] {
            Self.expectNoCrash(
                try Self.phiguard(["audit"] + command + ["--sqlite", database]), "audit \(command[0])")
        }
        Self.expectNoCrash(
            try Self.phiguard(
                ["audit", "append", "--sqlite", database, "--keys", keys], input: AuditCLITests.events(2)),
            "audit append")
    }

    @Test(
        "phiguard audit on a JSON-lines log whose seq, related and ts are out of range",
        arguments: [
            (#""seq":3,"#, #""seq":18446744073709551615,"#), (#""seq":3,"#, #""seq":0,"#),
            (#""seq":3,"#, #""seq":18446744073709551614,"#),
            (#""ts":1763884800000000"#, #""ts":-9223372036854775808"#),
            (#""outcome":"allow""#, #""related":18446744073709551615,"outcome":"allow""#),
        ])
    func auditFile(original: String, corrupted: String) throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = directory.appendingPathComponent("keys").path
        let log = directory.appendingPathComponent("audit.jsonl").path
        #expect(try Self.phiguard(["audit", "keygen", "--output", keys]).status == 0)
        let appended = try Self.phiguard(
            ["audit", "append", "--file", log, "--keys", keys], input: AuditCLITests.events(6))
        #expect(appended.status == 0, "\(appended.stderr)")
        let text = try String(contentsOfFile: log, encoding: .utf8)
        #expect(text.contains(original))
        // Every occurrence of `ts` and `outcome`, and the one record of the given `seq`.
        try text.replacingOccurrences(of: original, with: corrupted).write(
            toFile: log, atomically: true, encoding: .utf8)
        let verify = try Self.phiguard(["audit", "verify", "--file", log, "--keys", keys])
        Self.expectNoCrash(verify, "audit verify")
        #expect(verify.status == 1, "\(verify.stdout)")
        for command in ["export", "unreviewed"] {
            Self.expectNoCrash(try Self.phiguard(["audit", command, "--file", log]), "audit \(command)")
        }
        Self.expectNoCrash(
            try Self.phiguard(["audit", "append", "--file", log, "--keys", keys], input: AuditCLITests.events(1)),
            "audit append")
    }

    /// The portal's tables, each integer column set to values its writers never produce.
    static let portalCorruptions = [
        "UPDATE phiguard_sessions SET idle_expires_at = 9223372036854775807, absolute_expires_at = 9223372036854775807",
        "UPDATE phiguard_sessions SET created_at = -9223372036854775808",
        "UPDATE phiguard_sessions SET authenticated_at = 9223372036854775807, recently_authenticated_at = -1",
        "UPDATE phiguard_sessions SET last_seen_at = 'soon'",
        "UPDATE phiguard_rate_limits SET tat = 9223372036854775806",
        "UPDATE phiguard_rate_limits SET tat = -5",
        "UPDATE phiguard_lockout_accounts SET consecutive = 9223372036854775807, locked_until = -9223372036854775808",
        "UPDATE phiguard_lockout_accounts SET consecutive = -1",
        "UPDATE phiguard_lockout_addresses SET failures = 9223372036854775807, not_before = 9223372036854775807",
        "UPDATE phiguard_lockout_addresses SET failures = -1, not_before = -9223372036854775808",
        "UPDATE phiguard_totp_replay SET last_step = 9223372036854775807",
        "UPDATE phiguard_totp_replay SET last_step = -1",
        "UPDATE phiguard_accounts SET disabled = 7",
        "UPDATE phiguard_accounts SET disabled = -9223372036854775808",
        "UPDATE audit_records SET sequence = -1 WHERE position = (SELECT max(position) FROM audit_records)",
        "UPDATE audit_records SET sequence = 9223372036854775807 WHERE position = (SELECT max(position) FROM audit_records)",
    ]

    @Test("PatientPortal commands on a corrupted database", arguments: portalCorruptions)
    func portal(corruption: String) throws {
        let portal = try PatientPortalTests.Portal()
        defer { portal.remove() }
        // Sign in once so that every table has a row to corrupt (a failed guess fills the lockout).
        _ = try portal.run(["login", "--user", "alice"], input: "wrong password\n")
        #expect(try portal.signIn("alice").status == 0)
        // The next step's code, taken before the corruption (the demo authenticator reads the account).
        let code = try portal.run(["totp-code", "--account", "alice"]).stdout
        _ = try PatientPortalTests.sqlite(portal.database, corruption)
        for command in [
            ["whoami"], ["chart"], ["sessions"], ["totp-code", "--account", "alice"], ["logout"],
        ] {
            Self.expectNoCrash(try portal.run(command), command.joined(separator: " "))
        }
        // Last, so that the commands above see the corrupted values, not what a sign-in rewrote.
        let login = try portal.run(["login", "--user", "alice"], input: portal.password + "\n" + code)
        Self.expectNoCrash(login, "login")
        if corruption.contains("disabled = 7") {
            #expect(login.status != 0, "an account whose disabled flag is not 0 or 1 must not sign in")
        }
    }
}
