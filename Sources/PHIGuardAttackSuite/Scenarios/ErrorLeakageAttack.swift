// Attack 20: errors of a broken database reach the client as a generic message with a reference.

extension AttackScenario {
    /// What must never appear in a public message: SQL, table and driver names, paths, source locations.
    static let leakMarkers = [
        "select ", "insert ", "update ", "delete ", " from ", "sqlite", "postgres", "psql", "table", "column", "/",
        "\\", ".swift", "error(", "errno", "0x", "stack",
    ]

    /// The leak markers in `message` (case-insensitive), and `line N` (a source location; a
    /// message may say "the line above").
    static func leaks(in message: String) -> [String] {
        let text = message.lowercased()
        var found = leakMarkers.filter { text.contains($0) }
        let characters = Array(text)
        let word = Array("line ")
        for start in characters.indices.dropLast(word.count)
        where characters[start..<start + word.count].elementsEqual(word) && characters[start + word.count].isNumber {
            found.append("line N")
            break
        }
        return found
    }

    /// Attack 20: a renamed record table (needs ``AttackCapability/storage``), and each ``AttackFault``
    /// the target reproduces (needs ``AttackCapability/faults``); a target with neither is not applicable.
    static let errorLeakage = AttackScenario(
        "attack-20-error-leakage",
        "Errors of a broken database, file or key: a generic message with a reference, no SQL, path or stack"
    ) { probe in
        let fixture = probe.fixture
        let target = probe.target
        let table = target.storage?.layout.recordTables[fixture.ownRecord.type]
        let faults = target.capabilities.contains(.faults)
        guard table != nil || faults else {
            return .notApplicable(reason: "needs storage (with a record table in its layout) or faults")
        }
        guard let session = try await probe.signIn(fixture.clinician) else {
            return .inconclusive(reason: "the fixture clinician could not sign in")
        }
        let read = RecordOperation.read(type: fixture.ownRecord.type, id: fixture.ownRecord.id)
        // Control: the read works before any fault (a target that refuses everything proves nothing).
        let baseline = try await target.perform(read, as: session)
        probe.note("read before any fault (control)", baseline.description, breached: false)
        guard baseline.isAllowed else {
            return .inconclusive(reason: "the clinician cannot read the own record before any fault")
        }
        if let storage = target.storage, let table {
            let moved = table.table + "_moved_by_attack"
            _ = try await storage.execute("ALTER TABLE \(table.table) RENAME TO \(moved)", [])
            let broken = try await target.perform(read, as: session)
            _ = try await storage.execute("ALTER TABLE \(moved) RENAME TO \(table.table)", [])
            expectGeneric(probe, "read while the record table is missing", broken)
            let restored = try await target.perform(read, as: session)
            probe.note("read after restoring the table (control)", restored.description, breached: false)
            guard restored.isAllowed else {
                return .inconclusive(reason: "the record stays unreadable after the table was restored")
            }
        }
        guard faults else { return nil }
        for fault in AttackFault.allCases {
            guard let broken = try await target.underFault(fault, read, as: session) else {
                probe.note("read under \(fault.rawValue)", "not applicable to this target", breached: false)
                continue
            }
            expectGeneric(probe, "read under \(fault.rawValue)", broken)
            // The target undid the fault: the next request is served as before.
            let restored = try await target.perform(read, as: session)
            guard restored.isAllowed else {
                return .inconclusive(reason: "the target did not undo \(fault.rawValue): \(restored)")
            }
            probe.note("read after undoing \(fault.rawValue) (control)", restored.description, breached: false)
        }
        return nil
    }

    /// Expects `response` refused with no leak marker in its message and a reference to quote.
    private static func expectGeneric(_ probe: AttackProbe, _ tried: String, _ response: AttackResponse) {
        probe.expectRefused(tried, response)
        guard let refusal = response.refusal else { return }
        let leaks = Self.leaks(in: refusal.message)
        probe.note(
            "\(tried): look for SQL, paths and stack in the message", leaks.isEmpty ? "none" : "found \(leaks)",
            breached: !leaks.isEmpty)
        probe.note(
            "\(tried): look for a reference the user can quote", refusal.reference == nil ? "none given" : "given",
            breached: refusal.reference == nil)
    }
}
