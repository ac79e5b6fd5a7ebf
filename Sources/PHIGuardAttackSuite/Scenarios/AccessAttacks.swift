// Attacks 7, 8 and 14: another patient's record by id, staff-only actions, and deny over allow.

extension AttackScenario {
    /// Spellings of one id a client can send.
    static func spellings(_ id: String) -> [String] {
        var spellings = [id, id.uppercased(), id.lowercased(), " \(id)", "\(id) ", "\(id)/", "./\(id)", "\(id)%00"]
        if let first = id.unicodeScalars.first, first.isASCII {
            spellings.append("%" + String(first.value, radix: 16, uppercase: true) + id.dropFirst())
        }
        var unique: [String] = []
        for spelling in spellings where !unique.contains(spelling) { unique.append(spelling) }
        return unique
    }

    /// The number of audit rows, when the target gives storage access.
    static func auditCount(_ probe: AttackProbe) async throws -> Int64? {
        guard let storage = probe.target.storage else { return nil }
        guard
            case .integer(let count) = try await storage.scalar(
                "SELECT COUNT(*) AS n FROM \(storage.layout.auditTable)")
        else { return nil }
        return count
    }

    /// Attack 7.
    static let insecureDirectObjectReference = AttackScenario(
        "attack-07-idor",
        "IDOR: a patient requests another patient's record by any spelling of its id; same answer as a missing one, audited"
    ) { probe in
        let fixture = probe.fixture
        guard let session = try await probe.signIn(fixture.patient) else {
            return .inconclusive(reason: "the fixture patient could not sign in")
        }
        let beforeOwn = try await auditCount(probe)
        let own = try await probe.target.perform(
            .read(type: fixture.ownRecord.type, id: fixture.ownRecord.id), as: session)
        probe.note("patient reads their own record (control)", own.description, breached: false)
        guard own.isAllowed else { return .inconclusive(reason: "the fixture patient cannot read their own record") }
        let afterOwn = try await auditCount(probe)
        if let beforeOwn, let afterOwn {
            probe.note("audit rows for the own read", "\(beforeOwn) → \(afterOwn)", breached: afterOwn <= beforeOwn)
        }
        let missing = "zz-attack-missing-\(UInt32.random(in: 100_000...999_999))"
        for record in [fixture.otherRecord] + fixture.otherRecords {
            let type = record.type
            for (other, absent) in zip(spellings(record.id), spellings(missing)) {
                let before = try await auditCount(probe)
                let forbidden = try await probe.target.perform(.read(type: type, id: other), as: session)
                let after = try await auditCount(probe)
                let nothing = try await probe.target.perform(.read(type: type, id: absent), as: session)
                probe.expectRefused("patient: read another patient's \(type) as \(other.debugDescription)", forbidden)
                if let one = forbidden.refusal, let two = nothing.refusal, one.visible != two.visible {
                    probe.note(
                        "compare with a missing \(type) id spelled the same way",
                        "forbidden: \(one.visible) / missing: \(two.visible)",
                        breached: true)
                }
                if other == record.id, let before, let after {
                    probe.note(
                        "audit rows for the refused read of \(type) \(record.id)", "\(before) → \(after)",
                        breached: after <= before)
                }
            }
        }
        return nil
    }

    /// Attack 8.
    static let staffOnlyActions = AttackScenario(
        "attack-08-staff-only-actions",
        "A patient invokes staff-only actions (clinical update, break-glass)"
    ) { probe in
        let fixture = probe.fixture
        guard let session = try await probe.signIn(fixture.patient) else {
            return .inconclusive(reason: "the fixture patient could not sign in")
        }
        var tried = false
        if probe.target.capabilities.contains(.recordUpdate) {
            tried = true
            try await probe.expectRefused(
                .update(
                    type: fixture.ownRecord.type, id: fixture.ownRecord.id, changes: [fixture.clinicalField: "none"]),
                as: session, "patient")
        }
        if probe.target.capabilities.contains(.breakGlass) {
            tried = true
            for patientID in [fixture.otherRecord.patientID, fixture.ownRecord.patientID] {
                probe.expectRefused(
                    "patient: break the glass for \(patientID)",
                    try await probe.target.breakGlass(
                        patientID: patientID, reason: "emergency", justification: "I am a patient trying this",
                        as: session))
            }
        }
        return tried ? nil : .notApplicable(reason: "needs recordUpdate or breakGlass")
    }

    /// Attack 14.
    static let denyBeatsAllow = AttackScenario(
        "attack-14-deny-beats-allow",
        "Explicit deny beats an allow from another role (an admin who is also a physician opens a chart)"
    ) { probe in
        let fixture = probe.fixture
        guard let account = fixture.adminClinician else {
            return .notApplicable(reason: "the fixture names no admin-clinician account")
        }
        guard let session = try await probe.signIn(account) else {
            return .inconclusive(reason: "the admin-clinician could not sign in")
        }
        try await probe.expectRefused(
            .read(type: fixture.ownRecord.type, id: fixture.ownRecord.id), as: session, "admin + physician")
        return nil
    }
}
