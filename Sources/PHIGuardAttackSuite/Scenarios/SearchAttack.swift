// Attack 9: SQL injection and wildcards in the search box.

extension AttackScenario {
    /// Attack 9.
    static let searchInjection = AttackScenario(
        "attack-09-search-injection",
        "SQL injection and wildcards in search: the term is a value, never SQL (nothing found, nothing changed)",
        requires: [.search]
    ) { probe in
        let fixture = probe.fixture
        let target = probe.target
        let type = fixture.ownRecord.type
        let table = target.storage?.layout.recordTables[type]?.table ?? type
        // None of these is a value any record holds: an inert search finds nothing.
        let terms = [
            "' OR '1'='1", "' OR 1=1 --", "\" OR \"\"=\"", "x' UNION SELECT * FROM \(table) --", "%", "_", "*", "%%'--",
            "'; DROP TABLE \(table); --", "') OR ('a'='a",
        ]
        for account in [fixture.patient, fixture.clinician] {
            guard let session = try await probe.signIn(account) else {
                return .inconclusive(reason: "\(account.loginName) could not sign in")
            }
            for term in terms {
                let response = try await target.search(type: type, term: term, as: session)
                let found = if case .allowed(let values) = response { values.count } else { 0 }
                probe.note(
                    "\(account.loginName) searches \(type) for \(term.debugDescription)",
                    found > 0 ? "found \(found) record(s)" : response.description, breached: found > 0)
            }
        }
        // The table is intact: the clinician still reads the own record (control).
        guard let clinician = try await probe.signIn(fixture.clinician) else {
            return .inconclusive(reason: "the clinician could not sign in again")
        }
        let after = try await target.perform(.read(type: type, id: fixture.ownRecord.id), as: clinician)
        probe.note(
            "clinician reads \(fixture.ownRecord.id) after the searches (control)", after.description,
            breached: !after.isAllowed)
        return nil
    }
}
