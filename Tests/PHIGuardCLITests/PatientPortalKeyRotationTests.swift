import Foundation
import PHIGuardTestSupport
import Testing

/// `PatientPortal keys rotate` through the built binary: killed with SIGKILL in the middle, run
/// again, and nothing is lost.
@Suite("PatientPortal keys rotate, end to end (kill -9 mid-run)", .serialized)
struct PatientPortalKeyRotationTests {
    static let password = "rotation-\(UUID().uuidString)"
    static let indexColumns = ["name", "birth_date", "mrn", "ssn"]
    static let chartColumns = [
        "demographics", "contact", "insurance", "problems", "medications", "allergies", "vitals", "labs",
        "immunizations", "billing",
    ]

    /// Envelope count per key id over every encrypted column of the record tables (the key id is
    /// bytes 3… of the envelope, its length in byte 2).
    /// The encrypted note and message columns (the seed fills author/sender, date and body).
    static let noteColumns = ["author", "date", "body", "diagnosis_codes"]
    static let messageColumns = ["sender", "date", "body"]
    /// The seeded notes' and messages' encrypted fields (PortalSeed: 6 notes and 4 messages, 3 fields each).
    static let seededNoteFields = (6 + 4) * 3

    static func keyIDCounts(_ database: String) throws -> [String: Int] {
        let selects =
            indexColumns.map { ("portal_patients", $0) } + chartColumns.map { ("portal_charts", $0) }
            + noteColumns.map { ("portal_notes", $0) } + messageColumns.map { ("portal_messages", $0) }
        let union = selects.map { table, column in
            "SELECT CAST(substr(\(column), 3, unicode(CAST(substr(\(column), 2, 1) AS TEXT))) AS TEXT) AS k "
                + "FROM \(table) WHERE \(column) IS NOT NULL"
        }.joined(separator: " UNION ALL ")
        let output = try PatientPortalTests.sqlite(database, "SELECT k, count(*) FROM (\(union)) GROUP BY k")
        var counts: [String: Int] = [:]
        for line in output.split(separator: "\n") {
            let parts = line.split(separator: "|")
            guard parts.count == 2, let count = Int(parts[1]) else { continue }
            counts[String(parts[0])] = count
        }
        return counts
    }

    @Test(
        "keys rotate killed with SIGKILL mid-run, then rerun: every chart reads as before, every envelope under the new key"
    )
    func killedMidRun() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portal-rotate-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("portal.sqlite").path
        try Self.killAndRerun(
            directory: directory, storage: [], keyIDCounts: { try Self.keyIDCounts(database) },
            checkpointRows: {
                try PatientPortalTests.sqlite(database, "SELECT count(*) FROM phiguard_reencryption_checkpoints")
            })
        // And the audit log still verifies with the admin CLI.
        let verify = try BuiltProduct.run(
            "phiguard",
            ["audit", "verify", "--sqlite", database, "--keys", directory.appendingPathComponent("keys").path])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
    }

    /// Inits a portal of 60 patients on `storage`, starts `keys rotate` in batches of 5, kills it
    /// with SIGKILL once it shows progress, checks the mixed state, reruns it, and checks that every
    /// chart reads as before and every envelope is under the new key.
    static func killAndRerun(
        directory: URL, storage: [String], keyIDCounts: () throws -> [String: Int],
        checkpointRows: () throws -> String
    ) throws {
        let common =
            storage + [
                "--database", directory.appendingPathComponent("portal.sqlite").path,
                "--keys", directory.appendingPathComponent("keys").path, "--session-file",
                directory.appendingPathComponent("session").path,
            ]
        func run(_ arguments: [String], input: String = "") throws -> BuiltProduct.Run {
            try BuiltProduct.run("PatientPortal", arguments + common, input: input)
        }
        func signIn(_ user: String) throws {
            let code = try run(["totp-code", "--account", user])
            let login = try run(["login", "--user", user], input: Self.password + "\n" + code.stdout)
            try #require(login.status == 0, "\(login.stderr)")
        }
        let patients = 60
        try #require(try run(["init", "--patients", "\(patients)"], input: Self.password + "\n").status == 0)
        let fields = patients * (Self.indexColumns.count + Self.chartColumns.count) + Self.seededNoteFields
        let original = try keyIDCounts()
        #expect(original == ["field-1": fields])

        // The charts as the physician (care team p-1, p-2, p-4…p-40) and the billing clerk see them.
        let readers = [("dr.grey", ["p-1", "p-2", "p-4", "p-17", "p-40"]), ("bill.bea", ["p-3", "p-41", "p-60"])]
        func charts() throws -> [String] {
            var shown: [String] = []
            for (user, ids) in readers {
                try signIn(user)
                for id in ids {
                    let chart = try run(["chart", "show", id])
                    try #require(chart.status == 0, "\(user) \(id): \(chart.stderr)")
                    shown.append(chart.stdout)
                }
            }
            return shown
        }
        let before = try charts()
        #expect(before[0].contains("demographics: Alice Example, born 1984-03-07"))
        #expect(before[0].contains("medications: Salbutamol"))

        // Start the rotation in small batches and kill it once its progress shows some fields done.
        try signIn("admin.al")
        let process = Process()
        process.executableURL = BuiltProduct.directory.appendingPathComponent("PatientPortal")
        process.arguments = ["keys", "rotate", "--batch-size", "5"] + common
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        var progress = ""
        while !progress.contains("Re-encrypting [") || !progress.contains("\n") {
            let chunk = errors.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            progress += String(decoding: chunk, as: UTF8.self)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try #require(process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL)
        try #require(progress.contains("Re-encrypting ["), "no progress before the kill: \(progress)")

        // Killed mid-run: some envelopes under the new key, the rest still under field-1.
        let midway = try keyIDCounts()
        let newKey = try #require(midway.keys.first { $0 != "field-1" }, "nothing re-encrypted before the kill")
        #expect((midway["field-1"] ?? 0) > 0, "the run finished before the kill: \(midway)")
        #expect(midway.values.reduce(0, +) == fields)
        #expect(try checkpointRows() == "1")

        // The rerun resumes the same rotation and finishes it.
        let rerun = try run(["keys", "rotate", "--batch-size", "50"])
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.stdout.contains("Key rotation resumed and complete: \(fields) PHI fields under key \(newKey)"))
        #expect(rerun.stderr.contains("100% \(fields)/\(fields) fields"))
        #expect(try keyIDCounts() == [newKey: fields])
        #expect(try checkpointRows() == "0")

        // Every chart reads exactly as before the rotation.
        #expect(try charts() == before)
    }
}
