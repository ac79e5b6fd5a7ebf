import Foundation
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardFieldEncryption
import PHIGuardRecords
import PHIGuardSQLite
import PHIGuardTesting
import Synchronization
import Testing

/// `GuardedRecords.list` and `count` on a real SQLite file: paging, minimum necessary, audit first,
/// and the search oracles (hidden-field sort and search, wildcards, empty values, count vs list,
/// empty result vs refusal).
struct ListWorld {
    static let policy = """
        version: 1
        timeZone: UTC
        sensitivityLabels: [psych]
        resourceTypes:
          - name: note
            fields: [name, body, ward]
        roles:
          - name: physician
          - name: clerk
          - name: nobody
        rules:
          - id: physician-reads-team-notes
            effect: allow
            roles: physician
            actions: read
            resourceTypes: note
            when: {relationship: careTeam}
          - id: psych-body-hidden
            effect: deny
            roles: physician
            actions: read
            resourceTypes: note
            fields: [body]
            when: {labelsAnyOf: [psych]}
          - id: clerk-reads-ward
            effect: allow
            roles: clerk
            actions: read
            resourceTypes: note
            fields: [ward]
          - id: nobody-reads-ward-of-team
            effect: allow
            roles: nobody
            actions: read
            resourceTypes: note
            fields: [ward]
            when: {relationship: careTeam}
        breakGlass:
          roles: [physician]
          maxDuration: 4h
          grants:
            - actions: read
              resourceTypes: [note]
        """

    /// Counts every open, then hands it to the real encryptor.
    final class CountingCipher: RecordCipher {
        let inner: FieldEncryptor
        let opened = Mutex<[String]>([])
        init(_ inner: FieldEncryptor) { self.inner = inner }
        func seal(_ plaintext: String, context: FieldContext) throws(FieldEncryptionError) -> [UInt8] {
            try inner.seal(plaintext, context: context)
        }
        func open(_ envelope: [UInt8], context: FieldContext) throws(FieldEncryptionError) -> String {
            opened.withLock { $0.append(context.field) }
            return try inner.open(envelope, context: context)
        }
    }

    struct Teams: CareTeamDirectory {
        let links: [String: Set<String>]
        func isOnCareTeam(subjectID: String, patientID: String) -> Bool {
            links[subjectID]?.contains(patientID) ?? false
        }
    }

    static let team: Set<String> = Set((0..<20).map { "p-\($0)" })

    let path: String
    let clock = ManualClock(Date(timeIntervalSince1970: 1_800_000_000))
    let engine: AccessEngine
    let cipher: CountingCipher
    let sink = RecordingAuditSink()
    let log: AuditLog
    let schema: RecordSchema
    let store: SQLiteRecordStore
    let records: GuardedRecords
    let emergency: EmergencyAccess
    let nameIndex: BlindIndex

    /// 60 notes of patients p-0…p-59 (u-doc's team is p-0…p-19); every fifth is labelled psych;
    /// names "Name 0"…; ward w1/w2; note n-7 is named "100%_match*".
    init() async throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("list-\(UUID()).sqlite").path
        engine = AccessEngine(
            policy: try CompiledPolicy(yaml: Self.policy), clock: clock, careTeams: Teams(links: ["u-doc": Self.team]))
        let root = try FieldKey.generate(id: "bidx")
        let encryptor = FieldEncryptor(keyring: try Keyring(active: try FieldKey.generate(id: "k1")))
        cipher = CountingCipher(encryptor)
        log = try await AuditLog(
            sink: sink, chainKey: try AuditChainKey.generate(), signingKey: try AuditSigningKey.generate())
        nameIndex = try BlindIndex(
            name: "name", table: "notes", field: "name", bits: 32, normalization: .caseFolded, rootKey: root)
        schema = try RecordSchema(
            resourceType: "note", table: "notes",
            fields: [.encrypted("name", blindIndex: nameIndex), .encrypted("body"), .plain("ward"), .labels()])
        let careTeams = try CareTeamTable(table: "care_team")
        store = try await SQLiteRecordStore.open(path: path, schemas: [schema], careTeams: careTeams)
        records = try GuardedRecords(schema: schema, store: store, engine: engine, cipher: cipher, audit: log)
        emergency = EmergencyAccess(
            engine: engine, store: InMemoryBreakGlassStore(), encryptor: encryptor, audit: log, reviewerRoles: [])
        for patient in Self.team.sorted() { try await store.addCareTeamMember(subjectID: "u-doc", patientID: patient) }
        for index in 0..<60 {
            let id = String(format: "n-%02d", index)
            let name = index == 7 ? "100%_match*" : "Name \(index)"
            var columns: [String: StoredValue] = [
                "ward": .text(index % 2 == 0 ? "w1" : "w2"), "labels": .text(index % 5 == 0 ? "psych" : ""),
            ]
            for (field, value) in [("name", name), ("body", "body \(index)")] {
                columns[field] = .bytes(
                    try encryptor.seal(value, context: FieldContext(table: "notes", recordID: id, field: field)))
            }
            columns["name_bidx"] = .bytes(nameIndex.value(for: name).bytes)
            _ = try await store.insert(StoredRecord(id: id, patientID: "p-\(index)", columns: columns), schema: schema)
        }
    }

    func principal(_ id: String, _ roles: [String]) -> AuthenticatedPrincipal {
        let now = clock.now
        return AuthenticatedPrincipal(
            subject: Subject(id: id, roles: roles), sessionHandle: "s-\(id)", authenticatedAt: now,
            recentlyAuthenticatedAt: now, strength: .multiFactor, validUntil: now.addingTimeInterval(3600))
    }

    var opened: [String] { cipher.opened.withLock { $0 } }

    func close() async throws {
        try await log.close()
        try await store.close()
        try? FileManager.default.removeItem(atPath: path)
    }
}

@Suite struct ListQueryTests {
    @Test func pagesThroughExactlyTheCareTeamWithAMinimumNecessaryFieldSet() async throws {
        let world = try await ListWorld()
        let doctor = world.principal("u-doc", ["physician"])
        var seen: [GuardedRecord] = []
        var page = try await world.records.list(as: doctor, limit: 7)
        seen += page.records
        while let cursor = page.nextCursor {
            #expect(page.records.count == 7)
            page = try await world.records.list(as: doctor, limit: 7, after: cursor)
            seen += page.records
        }
        #expect(Set(seen.map(\.patientID)) == ListWorld.team)
        #expect(seen.count == 20)
        for record in seen {
            let labelled = Int(record.id.dropFirst(2)).map { $0 % 5 == 0 } ?? false
            #expect(record.fieldNames == (labelled ? ["name", "ward"] : ["body", "name", "ward"]))
        }
        // Only visible encrypted fields were opened: 20 names, 16 bodies (4 psych notes hide theirs).
        #expect(world.opened.filter { $0 == "name" }.count == 20)
        #expect(world.opened.filter { $0 == "body" }.count == 16)
        #expect(try await world.records.count(as: doctor) == 20)
        // One audit record per page, listing the page's patients, before any value was returned.
        let queries = world.sink.events(.accessDecision).filter { $0.reason == "query" }
        #expect(queries.count == 3)
        #expect(queries.first?.attributes["patients-0"]?.hasPrefix("3:p-0/3:p-1/3:p-2/") == true)
        #expect(queries.first?.attributes["row-count"] == "7")
        try await world.close()
    }

    @Test func auditFailureReturnsNothingAndDecryptsNothing() async throws {
        let world = try await ListWorld()
        world.sink.refuseAppends()
        await #expect(throws: RecordError.auditUnavailable) {
            _ = try await world.records.list(as: world.principal("u-doc", ["physician"]))
        }
        #expect(world.opened.isEmpty)
        world.sink.refuseAppends(false)
        try await world.close()
    }

    @Test func tamperedOrForeignCursorIsRefused() async throws {
        let world = try await ListWorld()
        let doctor = world.principal("u-doc", ["physician"])
        let page = try await world.records.list(as: doctor, limit: 5)
        let cursor = try #require(page.nextCursor)
        var bytes = Array(cursor.utf8)
        bytes[3] = bytes[3] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        await #expect(throws: RecordError.invalidCursor) {
            _ = try await world.records.list(as: doctor, limit: 5, after: String(decoding: bytes, as: UTF8.self))
        }
        // A well-formed payload (the last id moved back to the start) under the old MAC: refused.
        let parts = cursor.split(separator: ".")
        var payload = String(parts[0]).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        payload += String(repeating: "=", count: (4 - payload.count % 4) % 4)
        let json = try #require(Data(base64Encoded: payload).flatMap { String(data: $0, encoding: .utf8) })
        #expect(json.contains("n-04"))
        let forged = Data(json.replacingOccurrences(of: "n-04", with: "n-00").utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        await #expect(throws: RecordError.invalidCursor) {
            _ = try await world.records.list(as: doctor, limit: 5, after: forged + "." + parts[1])
        }
        // Another query (a filter added) or another principal cannot reuse it.
        await #expect(throws: RecordError.invalidCursor) {
            _ = try await world.records.list(as: doctor, where: [.equals(field: "ward", value: "w1")], after: cursor)
        }
        await #expect(throws: RecordError.invalidCursor) {
            _ = try await world.records.list(as: world.principal("u-other", ["physician"]), after: cursor)
        }
        try await world.close()
    }

    @Test func searchAndSortOnHiddenFieldsAreRefusedWhateverTheData() async throws {
        let world = try await ListWorld()
        let clerk = world.principal("u-clerk", ["clerk"])  // sees only `ward`
        for filter: RecordFilter in [.equals(field: "name", value: "Name 3"), .equals(field: "body", value: "body 3")] {
            await #expect(throws: RecordError.self) { _ = try await world.records.list(as: clerk, where: [filter]) }
            await #expect(throws: RecordError.self) { _ = try await world.records.count(as: clerk, where: [filter]) }
        }
        // A search for a value no record has is refused the same way: refusal tells nothing about the data.
        let missing = await refusal {
            try await world.records.list(as: clerk, where: [.equals(field: "name", value: "nobody")])
        }
        let present = await refusal {
            try await world.records.list(as: clerk, where: [.equals(field: "name", value: "Name 3")])
        }
        #expect(missing == present && missing != nil)
        // Sorting on an encrypted field, or a field hidden on some rows, is refused.
        let doctor = world.principal("u-doc", ["physician"])
        await #expect(throws: RecordError.queryRefused("encrypted field 'name' cannot be sorted")) {
            _ = try await world.records.list(as: doctor, orderBy: RecordOrder(.field("name")))
        }
        // The labels column is never searchable.
        await #expect(throws: RecordError.queryRefused("field 'labels' cannot be searched")) {
            _ = try await world.records.list(as: doctor, where: [.equals(field: "labels", value: "psych")])
        }
        #expect(world.opened.isEmpty)
        #expect(world.sink.events(.accessDecision).filter { $0.reason == "query-refused" }.count == 8)
        try await world.close()
    }

    @Test func sortingOnAVisiblePlainFieldPagesInOrder() async throws {
        let world = try await ListWorld()
        let clerk = world.principal("u-clerk", ["clerk"])
        var keys: [String] = []
        var page = try await world.records.list(
            as: clerk, orderBy: RecordOrder(.field("ward"), descending: true), limit: 25)
        keys += page.records.map { "\($0["ward"] ?? "")/\($0.id)" }
        while let cursor = page.nextCursor {
            page = try await world.records.list(
                as: clerk, orderBy: RecordOrder(.field("ward"), descending: true), limit: 25, after: cursor)
            keys += page.records.map { "\($0["ward"] ?? "")/\($0.id)" }
        }
        #expect(keys.count == 60)
        #expect(keys == keys.sorted(by: >))
        #expect(world.opened.isEmpty)  // ward is plain; name and body are hidden from the clerk
        try await world.close()
    }

    @Test func wildcardsAreLiteralsAndEmptyValuesAreRefused() async throws {
        let world = try await ListWorld()
        let doctor = world.principal("u-doc", ["physician"])
        for wildcard in ["%", "_", "*", "100%", "%_%", "Name _"] {
            let page = try await world.records.list(as: doctor, where: [.equals(field: "name", value: wildcard)])
            #expect(page.records.isEmpty, "\(wildcard)")
        }
        let exact = try await world.records.list(as: doctor, where: [.equals(field: "name", value: "100%_match*")])
        #expect(exact.records.map(\.id) == ["n-07"])
        let folded = try await world.records.list(as: doctor, where: [.equals(field: "name", value: "  NAME 3 ")])
        #expect(folded.records.map(\.id) == ["n-03"])
        for empty in ["", "   "] {
            await #expect(throws: RecordError.queryRefused("empty search value")) {
                _ = try await world.records.list(as: doctor, where: [.equals(field: "name", value: empty)])
            }
        }
        await #expect(throws: RecordError.queryRefused("empty search value")) {
            _ = try await world.records.list(as: doctor, where: [.equals(field: "ward", value: "")])
        }
        try await world.close()
    }

    @Test func countAgreesWithListAndOutsideTheTeamLooksLikeNothing() async throws {
        let world = try await ListWorld()
        let doctor = world.principal("u-doc", ["physician"])
        // p-30 exists but is not on the team; p-99 does not exist: the same empty answer.
        for patient in ["p-30", "p-99"] {
            #expect(try await world.records.list(as: doctor, where: [.patient(patient)]).records.isEmpty)
            #expect(try await world.records.count(as: doctor, where: [.patient(patient)]) == 0)
        }
        let ward = [RecordFilter.equals(field: "ward", value: "w1")]
        #expect(try await world.records.count(as: doctor, where: ward) == 10)
        #expect(try await world.records.list(as: doctor, where: ward, limit: 100).records.count == 10)
        // Count cannot search encrypted fields (blind-index collisions would be counted).
        await #expect(throws: RecordError.self) {
            _ = try await world.records.count(as: doctor, where: [.equals(field: "name", value: "Name 3")])
        }
        // A role with no readable field for some rows: the team's rows only, ward only.
        let nobody = world.principal("u-doc", ["nobody"])
        let page = try await world.records.list(as: nobody, limit: 100)
        #expect(page.records.count == 20 && page.records.allSatisfy { $0.fieldNames == ["ward"] })
        try await world.close()
    }

    @Test func breakGlassWidensTheScopeOnlyWithAnActiveGrantAndDeniesStillWin() async throws {
        let world = try await ListWorld()
        let doctor = world.principal("u-doc", ["physician"])
        // A grant for ten patients outside the care team (p-20…p-29) adds exactly their rows.
        let grant = try await world.emergency.invoke(
            doctor, scope: BreakGlassScope(patients: (20..<30).map { "p-\($0)" }),
            reason: BreakGlassReason(category: .emergencyTreatment, justification: "unconscious patient"))
        let page = try await world.records.list(as: doctor, limit: 100, breakGlass: grant)
        #expect(page.records.count == 30)
        #expect(Set(page.records.map(\.patientID)) == Set((0..<30).map { "p-\($0)" }))
        // The psych notes' bodies stay hidden: the field deny wins over the emergency grant.
        #expect(page.records.filter { $0["body"] == nil }.count == 6)
        let event = try #require(world.sink.events(.accessDecision).last)
        #expect(event.breakGlass && event.attributes["break-glass-grant"] == grant.grant.id)
        #expect(event.attributes["break-glass-status"] == "active")
        // Someone else's grant adds nothing.
        let other = world.principal("u-other", ["physician"])
        #expect(try await world.records.list(as: other, limit: 100, breakGlass: grant).records.isEmpty)
        // After expiry: back to the care team.
        world.clock.advance(by: .seconds(5 * 3600))
        let later = world.principal("u-doc", ["physician"])
        #expect(try await world.records.list(as: later, limit: 100, breakGlass: grant).records.count == 20)
        try await world.close()
    }

    @Test func untranslatablePlanIsRefusedNamingTheRule() async throws {
        let world = try await ListWorld()
        // The same store without a care-team table: careTeam cannot be translated.
        let bare = try await SQLiteRecordStore.inMemory(schemas: [world.schema])
        let records = try GuardedRecords(
            schema: world.schema, store: bare, engine: world.engine, cipher: world.cipher, audit: world.log)
        await #expect(
            throws: RecordError.planUntranslatable(
                "policy rule 'physician-reads-team-notes' cannot be translated to SQL: careTeam needs a care-team table (or the subject's list)"
            )
        ) {
            _ = try await records.list(as: world.principal("u-doc", ["physician"]))
        }
        // The clerk's plan needs no care-team table: it still lists.
        #expect(try await records.list(as: world.principal("u-clerk", ["clerk"])).records.isEmpty)
        try await bare.close()
        try await world.close()
    }

    private func refusal(_ body: () async throws -> RecordPage) async -> RecordError? {
        do {
            _ = try await body()
            return nil
        } catch let error as RecordError {
            return error
        } catch {
            return nil
        }
    }
}
