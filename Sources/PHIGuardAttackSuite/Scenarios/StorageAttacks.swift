import Foundation

// Attacks 15–17: envelopes tampered with or moved, data at rest in clear, audit rows tampered with.

extension AttackScenario {
    /// Attack 15.
    static let ciphertextTampering = AttackScenario(
        "attack-15-ciphertext-tampering",
        "Ciphertext tampered with, or an envelope moved between rows or columns: refused, one uniform answer",
        requires: [.storage]
    ) { probe in
        let fixture = probe.fixture
        guard let storage = probe.target.storage,
            let table = storage.layout.recordTables[fixture.ownRecord.type], table.encryptedColumns.count >= 2
        else { return .notApplicable(reason: "the layout names no record table with two encrypted columns") }
        guard let session = try await probe.signIn(fixture.clinician) else {
            return .inconclusive(reason: "the fixture clinician could not sign in")
        }
        let read = RecordOperation.read(type: fixture.ownRecord.type, id: fixture.ownRecord.id)
        let control = try await probe.target.perform(read, as: session)
        probe.note("clinician reads the record (control)", control.description, breached: false)
        guard control.isAllowed else { return .inconclusive(reason: "the fixture clinician cannot read the record") }
        let column = table.encryptedColumns[0]
        let p1 = storage.placeholder(1)
        let original = try await storage.scalar(
            "SELECT \(column) FROM \(table.table) WHERE \(table.idColumn) = \(p1)", [.text(fixture.ownRecord.id)])
        guard let original, original != .null else {
            return .inconclusive(reason: "the record's \(column) column is empty")
        }
        let flipped: AttackSQLValue
        switch original {
        case .blob(var bytes) where !bytes.isEmpty:
            bytes[bytes.count / 2] ^= 0x01
            flipped = .blob(bytes)
        case .text(let text) where !text.isEmpty:
            var characters = Array(text)
            let middle = characters.count / 2
            characters[middle] = characters[middle] == "A" ? "B" : "A"
            flipped = .text(String(characters))
        default: return .inconclusive(reason: "the record's \(column) column holds no envelope")
        }
        let tamperings: [(String, String, [AttackSQLValue])] = [
            (
                "move \(column) of another patient's row into this row",
                "UPDATE \(table.table) SET \(column) = (SELECT \(column) FROM \(table.table) WHERE \(table.idColumn) = \(p1)) WHERE \(table.idColumn) = \(storage.placeholder(2))",
                [.text(fixture.otherRecord.id), .text(fixture.ownRecord.id)]
            ),
            (
                "move \(table.encryptedColumns[1]) into \(column) of the same row",
                "UPDATE \(table.table) SET \(column) = \(table.encryptedColumns[1]) WHERE \(table.idColumn) = \(p1)",
                [.text(fixture.ownRecord.id)]
            ),
            (
                "flip one bit of \(column)",
                "UPDATE \(table.table) SET \(column) = \(p1) WHERE \(table.idColumn) = \(storage.placeholder(2))",
                [flipped, .text(fixture.ownRecord.id)]
            ),
        ]
        var answers: Set<String> = []
        for (what, sql, binds) in tamperings {
            _ = try await storage.execute(sql, binds)
            let response = try await probe.target.perform(read, as: session)
            // Restore before judging, so a later scenario sees the seeded row.
            _ = try await storage.execute(
                "UPDATE \(table.table) SET \(column) = \(p1) WHERE \(table.idColumn) = \(storage.placeholder(2))",
                [original, .text(fixture.ownRecord.id)])
            probe.expectRefused("\(what), then read it", response)
            if let refusal = response.refusal { answers.insert(refusal.visible) }
        }
        if answers.count > 1 {
            probe.note("compare the refusals", "they differ: \(answers.sorted())", breached: true)
        }
        let restored = try await probe.target.perform(read, as: session)
        probe.note("read after restoring the row (control)", restored.description, breached: false)
        return nil
    }

    /// Attack 16.
    static let dataAtRest = AttackScenario(
        "attack-16-data-at-rest",
        "The database files (and WAL) hold none of the seeded names, SSNs, notes or passwords in clear",
        requires: [.storage]
    ) { probe in
        try await probe.target.storage?.prepareFilesAtRest()
        guard let storage = probe.target.storage, !storage.filesAtRest.isEmpty else {
            return .notApplicable(reason: "the database files are not readable from the test (a server database)")
        }
        let secrets = probe.fixture.plaintextSecrets.filter { $0.utf8.count >= 4 }
        guard !secrets.isEmpty else { return .notApplicable(reason: "the fixture names no plaintext secrets") }
        var scanned = 0
        for path in storage.filesAtRest {
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            scanned += data.count
            for secret in secrets {
                for (encoding, bytes) in [
                    ("UTF-8", Data(secret.utf8)), ("UTF-16", secret.data(using: .utf16LittleEndian)),
                ]
                where bytes.map({ data.range(of: $0) != nil }) ?? false {
                    probe.note(
                        "scan \((path as NSString).lastPathComponent) for seeded values",
                        "found \(secret.debugDescription) in \(encoding)", breached: true)
                }
            }
        }
        probe.note(
            "scan \(storage.filesAtRest.count) files (\(scanned) bytes) for \(secrets.count) values",
            "done", breached: false)
        return scanned == 0 ? .inconclusive(reason: "no database file could be read") : nil
    }

    /// Attack 17.
    static let auditTampering = AttackScenario(
        "attack-17-audit-tampering",
        "Audit rows edited, deleted, reordered, truncated (with their checkpoints): detected",
        requires: [.storage, .auditVerification]
    ) { probe in
        guard let storage = probe.target.storage else { return .notApplicable(reason: "no storage") }
        let target = probe.target
        let layout = storage.layout
        let table = layout.auditTable
        let sequence = layout.auditSequenceColumn
        let p1 = storage.placeholder(1)
        guard try await target.verifyAuditLog() else {
            return .inconclusive(reason: "the audit log does not verify before any tampering")
        }
        let sequences: [Int64] = try await storage.execute(
            "SELECT \(sequence) AS s FROM \(table) ORDER BY \(sequence)", []
        ).compactMap { if case .integer(let value) = $0["s"] { value } else { nil } }
        guard sequences.count >= 6 else { return .inconclusive(reason: "fewer than 6 audit rows to tamper with") }
        let middle = sequences[sequences.count / 2]
        let next = sequences[sequences.count / 2 + 1]

        func check(_ what: String, tamper: () async throws -> Void, restore: () async throws -> Void) async throws {
            try await tamper()
            let intact = try await target.verifyAuditLog()
            try await restore()
            probe.note(what, intact ? "not detected: the log still verifies" : "detected", breached: intact)
        }
        func rows(_ condition: String, _ binds: [AttackSQLValue]) async throws -> [[String: AttackSQLValue]] {
            try await storage.execute("SELECT * FROM \(table) WHERE \(condition)", binds)
        }
        func reinsert(_ rows: [[String: AttackSQLValue]], into table: String) async throws {
            for row in rows {
                let columns = row.keys.sorted()
                _ = try await storage.execute(
                    "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES (\(storage.placeholders(columns.count)))",
                    columns.map { row[$0] ?? .null })
            }
        }

        let editable = layout.auditEditableColumn
        let saved = try await rows("\(sequence) = \(p1)", [.integer(middle)])
        let before = saved.first?[editable] ?? .null
        try await check("edit the \(editable) of audit row \(middle)") {
            _ = try await storage.execute(
                "UPDATE \(table) SET \(editable) = \(p1) WHERE \(sequence) = \(storage.placeholder(2))",
                [.text("someone-else"), .integer(middle)])
        } restore: {
            _ = try await storage.execute(
                "UPDATE \(table) SET \(editable) = \(p1) WHERE \(sequence) = \(storage.placeholder(2))",
                [before, .integer(middle)])
        }
        try await check("delete audit row \(middle)") {
            _ = try await storage.execute("DELETE FROM \(table) WHERE \(sequence) = \(p1)", [.integer(middle)])
        } restore: {
            try await reinsert(saved, into: table)
        }
        try await check("swap audit rows \(middle) and \(next)") {
            for (from, to) in [(middle, -1), (next, middle), (-1, next)] {
                _ = try await storage.execute(
                    "UPDATE \(table) SET \(sequence) = \(p1) WHERE \(sequence) = \(storage.placeholder(2))",
                    [.integer(to), .integer(from)])
            }
        } restore: {
            for (from, to) in [(middle, -1), (next, middle), (-1, next)] {
                _ = try await storage.execute(
                    "UPDATE \(table) SET \(sequence) = \(p1) WHERE \(sequence) = \(storage.placeholder(2))",
                    [.integer(to), .integer(from)])
            }
        }
        let cut = sequences[sequences.count - 3]
        let tail = try await rows("\(sequence) >= \(p1)", [.integer(cut)])
        var checkpoints: [[String: AttackSQLValue]] = []
        if let checkpointTable = layout.auditCheckpointTable {
            checkpoints = try await storage.execute(
                "SELECT * FROM \(checkpointTable) WHERE \(layout.auditCheckpointSequenceColumn) >= \(p1)",
                [.integer(cut - 1)])
        }
        try await check("truncate the last 3 audit rows and the checkpoints covering them") {
            _ = try await storage.execute("DELETE FROM \(table) WHERE \(sequence) >= \(p1)", [.integer(cut)])
            if let checkpointTable = layout.auditCheckpointTable {
                _ = try await storage.execute(
                    "DELETE FROM \(checkpointTable) WHERE \(layout.auditCheckpointSequenceColumn) >= \(p1)",
                    [.integer(cut - 1)])
            }
        } restore: {
            try await reinsert(tail, into: table)
            if let checkpointTable = layout.auditCheckpointTable {
                try await reinsert(checkpoints, into: checkpointTable)
            }
        }
        let after = try await target.verifyAuditLog()
        probe.note("verify after restoring every row (control)", after ? "intact" : "broken", breached: false)
        return nil
    }
}
