// Attack 9: SQL injection and wildcards in the search box, and in the sort, filter, limit and cursor
// parameters of a list request.

extension AttackScenario {
    /// Attack 9: the search part needs ``AttackCapability/search``, the list-parameter part
    /// ``AttackCapability/listParameters``; a target with neither is not applicable.
    static let searchInjection = AttackScenario(
        "attack-09-search-injection",
        "SQL injection in search, sort, filter, limit and cursor parameters: inert (a refusal or the user's own rows, nothing changed)"
    ) { probe in
        let capabilities = probe.target.capabilities
        guard capabilities.contains(.search) || capabilities.contains(.listParameters) else {
            return .notApplicable(reason: "needs search or listParameters")
        }
        let fixture = probe.fixture
        let target = probe.target
        let type = fixture.ownRecord.type
        let table = target.storage?.layout.recordTables[type]?.table ?? type
        guard let patient = try await probe.signIn(fixture.patient),
            let clinician = try await probe.signIn(fixture.clinician)
        else { return .inconclusive(reason: "a fixture account could not sign in") }
        let sessions = [(fixture.patient.loginName, patient), (fixture.clinician.loginName, clinician)]
        if capabilities.contains(.search) {
            try await searchTerms(probe, type: type, table: table, sessions: sessions)
        }
        var cleanBefore: [String: Set<String>] = [:]
        if capabilities.contains(.listParameters) {
            guard let clean = try await listParameters(probe, type: type, table: table, sessions: sessions) else {
                return .inconclusive(reason: "a list without parameters was refused")
            }
            cleanBefore = clean
        }
        // The table is intact: the clinician still reads the own record, and lists what it listed (control).
        let after = try await target.perform(.read(type: type, id: fixture.ownRecord.id), as: clinician)
        probe.note(
            "clinician reads \(fixture.ownRecord.id) after the attempts (control)", after.description,
            breached: !after.isAllowed)
        if let before = cleanBefore[fixture.clinician.loginName] {
            let now = try await everything(probe, type: type, as: clinician)
            probe.note(
                "clinician lists \(type) again without parameters (control)",
                now.map { "\($0.count) record(s), \(before.count) before" } ?? "refused", breached: now != before)
        }
        return nil
    }

    /// Hostile search terms: none is a value any record holds, so an inert search finds nothing.
    private static func searchTerms(
        _ probe: AttackProbe, type: String, table: String, sessions: [(String, AttackSession)]
    ) async throws {
        let terms = [
            "' OR '1'='1", "' OR 1=1 --", "\" OR \"\"=\"", "x' UNION SELECT * FROM \(table) --", "%", "_", "*", "%%'--",
            "'; DROP TABLE \(table); --", "') OR ('a'='a",
        ]
        for (name, session) in sessions {
            for term in terms {
                let response = try await probe.target.search(type: type, term: term, as: session)
                let found = if case .allowed(let values) = response { values.count } else { 0 }
                probe.note(
                    "\(name) searches \(type) for \(term.debugDescription)",
                    found > 0 ? "found \(found) record(s)" : response.description, breached: found > 0)
            }
        }
    }

    /// Every record id a list without parameters returns to `session`, following its cursors
    /// (at most 1,000 pages); `nil` when a page is refused.
    private static func everything(_ probe: AttackProbe, type: String, as session: AttackSession) async throws
        -> Set<String>?
    {
        var ids: Set<String> = []
        var parameters: [String: String] = [:]
        for _ in 0..<1_000 {
            guard
                case .allowed(var values) = try await probe.target.list(type: type, parameters: parameters, as: session)
            else { return nil }
            let next = values.removeValue(forKey: AttackResponse.nextCursorKey)
            ids.formUnion(values.keys)
            guard let next else { return ids }
            parameters = ["cursor": next]
        }
        return ids
    }

    /// The hostile list requests: sort keys, filter names and values, limits and cursors. Each answer
    /// must be a refusal (4xx when the app has statuses, no SQL, path or stack in the message) or a
    /// page of at most the maximum size holding only records the clean list returns to that user.
    /// Returns the clean lists by user (`nil` when one was refused).
    private static func listParameters(
        _ probe: AttackProbe, type: String, table: String, sessions: [(String, AttackSession)]
    ) async throws -> [String: Set<String>]? {
        let target = probe.target
        let fixture = probe.fixture
        let layout = target.storage?.layout.recordTables[type]
        let idColumn = layout?.idColumn ?? "id"
        var clean: [String: Set<String>] = [:]
        for (name, session) in sessions {
            guard let ids = try await everything(probe, type: type, as: session) else { return nil }
            clean[name] = ids
        }
        // A genuine cursor of the clinician's (a one-record page), to be replayed by the patient and forged.
        var genuine: String?
        if case .allowed(let values) = try await target.list(type: type, parameters: ["limit": "1"], as: sessions[1].1)
        {
            genuine = values[AttackResponse.nextCursorKey]
        }
        var encrypted = layout?.encryptedColumns ?? []
        if !encrypted.contains(fixture.clinicalField) { encrypted.append(fixture.clinicalField) }
        let sorts =
            [
                "name; DROP TABLE \(table); --", "1,(SELECT 1)", "(SELECT \(idColumn) FROM \(table) LIMIT 1)",
                "\(idColumn) DESC, (SELECT COUNT(*) FROM \(table))", "\(idColumn)) UNION SELECT * FROM \(table) --",
                "no_such_field", "-no_such_field", "' OR '1'='1", "", "-", "--", "\(idColumn)\u{0}",
            ] + encrypted + encrypted.map { "-" + $0 }
        let filters: [(String, String)] =
            [
                ("filter.1 OR 1=1 OR \(idColumn)", "x"), ("filter.\(idColumn) = \(idColumn) --", "x"),
                ("filter.(SELECT 1)", "1"), ("filter.no_such_field", "x"), ("filter.", "x"),
                ("filter.\(idColumn)", "x' OR '1'='1"), ("filter.\(idColumn)", "%"),
                ("filter.patient", "' OR 1=1 --"), ("filter.patient", fixture.otherRecord.patientID),
                ("filter.\(idColumn)", fixture.otherRecord.id), ("filter.id", fixture.otherRecord.id),
            ] + encrypted.map { ("filter.\($0)", "' OR 1=1 --") }
        let limits = [
            "-1", "0", "9223372036854775807", "9223372036854775808", "-9223372036854775809", "1e9", "abc", "", "0x10",
            " 5", "5; DROP TABLE \(table)", "１０", "1.5",
        ]
        var cursors = [
            "garbage", "", "' OR 1=1 --", "AAAA", String(repeating: "A", count: 4_096), "../../etc/passwd",
            "eyJpZCI6IjEifQ",
        ]
        if let genuine, let last = genuine.last {
            cursors += [genuine, String(genuine.dropLast()) + (last == "A" ? "B" : "A"), genuine + "A"]
        }
        var requests: [[String: String]] = sorts.map { ["sort": $0] }
        requests += filters.map { [$0.0: $0.1] }
        requests += limits.map { ["limit": $0] }
        requests += cursors.map { ["cursor": $0] }
        requests.append(["sort": "1,(SELECT 1)", "filter.\(idColumn)": "x' OR '1'='1", "limit": "-1"])
        let maximum = target.maximumListPageSize
        for (name, session) in sessions {
            let allowed = clean[name] ?? []
            for parameters in requests {
                let response = try await target.list(type: type, parameters: parameters, as: session)
                let tried = "\(name) lists \(type) with \(shown(parameters))"
                switch response {
                case .refused(let refusal):
                    let leaks = Self.leaks(in: refusal.message)
                    let status = refusal.status.map { (400..<500).contains($0) } ?? true
                    probe.note(
                        tried, leaks.isEmpty ? response.description : "refused, message holds \(leaks)",
                        breached: !leaks.isEmpty || !status)
                case .allowed(var values):
                    values.removeValue(forKey: AttackResponse.nextCursorKey)
                    let extra = Set(values.keys).subtracting(allowed)
                    let bound = maximum ?? max(allowed.count, 1)
                    let over = maximum != nil && values.count > bound
                    probe.note(
                        tried,
                        extra.isEmpty && !over
                            ? "allowed \(values.count) of its own record(s)"
                            : "\(values.count) record(s), \(extra.count) the clean list does not return (max \(bound))",
                        breached: !extra.isEmpty || over)
                }
            }
        }
        return clean
    }

    /// Parameters for a report line: sorted, values quoted, long ones shortened.
    private static func shown(_ parameters: [String: String]) -> String {
        parameters.sorted { $0.key < $1.key }.map { key, value in
            let short = value.count > 40 ? String(value.prefix(20)) + "…(\(value.count) chars)" : value
            return "\(key)=\(short.debugDescription)"
        }.joined(separator: " ")
    }
}
