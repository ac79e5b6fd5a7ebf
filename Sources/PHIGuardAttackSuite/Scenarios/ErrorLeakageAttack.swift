// Attack 20: errors of a broken database reach the client as a generic message with a reference.

extension AttackScenario {
    /// What must never appear in a public message: SQL, table and driver names, paths, source locations.
    static let leakMarkers = [
        "select ", "insert ", "update ", "delete ", " from ", "sqlite", "postgres", "psql", "table", "column", "/",
        "\\", ".swift", "error(", "errno", "0x", "stack", "line ",
    ]

    /// Attack 20.
    static let errorLeakage = AttackScenario(
        "attack-20-error-leakage",
        "Errors of a broken database: a generic message with a reference, no SQL, path or stack",
        requires: [.storage]
    ) { probe in
        let fixture = probe.fixture
        guard let storage = probe.target.storage, let table = storage.layout.recordTables[fixture.ownRecord.type]
        else { return .notApplicable(reason: "the layout names no record table") }
        guard let session = try await probe.signIn(fixture.clinician) else {
            return .inconclusive(reason: "the fixture clinician could not sign in")
        }
        let read = RecordOperation.read(type: fixture.ownRecord.type, id: fixture.ownRecord.id)
        let moved = table.table + "_moved_by_attack"
        _ = try await storage.execute("ALTER TABLE \(table.table) RENAME TO \(moved)", [])
        let broken = try await probe.target.perform(read, as: session)
        _ = try await storage.execute("ALTER TABLE \(moved) RENAME TO \(table.table)", [])
        probe.expectRefused("read while the record table is missing", broken)
        if let refusal = broken.refusal {
            let text = refusal.message.lowercased()
            let leaks = leakMarkers.filter { text.contains($0) }
            probe.note(
                "look for SQL, paths and stack in the message", leaks.isEmpty ? "none" : "found \(leaks)",
                breached: !leaks.isEmpty)
            probe.note(
                "look for a reference the user can quote", refusal.reference == nil ? "none given" : "given",
                breached: refusal.reference == nil)
        }
        let restored = try await probe.target.perform(read, as: session)
        probe.note("read after restoring the table (control)", restored.description, breached: false)
        return nil
    }
}
