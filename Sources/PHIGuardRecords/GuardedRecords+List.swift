internal import Foundation
public import PHIGuardAccess
internal import PHIGuardAudit
internal import PHIGuardCrypto
internal import PHIGuardFieldEncryption

/// A record store that runs the SQL the plan translator writes (the SQLite and PostgreSQL stores).
/// Package-only: the statements come from ``PlanTranslator`` and `GuardedRecords`, never from callers.
package protocol SQLRecordStore: RecordStore {
    /// The dialect the store speaks.
    var sqlDialect: SQLDialect { get }
    /// The care-team table in the same database, if any.
    var careTeamTable: CareTeamTable? { get }
    /// Runs `statement` and returns its rows, cells in select-list order.
    func rows(_ statement: SQLStatement) async throws -> [[SQLValue]]
}

extension GuardedRecords {
    /// The most rows a page may hold.
    public static let maximumPageSize = 500

    /// Uses `secret` (32 bytes; the caller's copy is zeroed) as the key that MACs list cursors, so
    /// cursors stay valid across restarts and across instances sharing the key. Without it, each
    /// instance uses a random key and a cursor from another instance is ``RecordError/invalidCursor``.
    public func useCursorKey(_ secret: inout [UInt8]) throws(RecordError) {
        try cursorKey.use(&secret)
    }

    /// Lists the records `principal` may see, one page at a time: the access plan compiled to SQL
    /// (``PlanTranslator``), so only permitted rows are read, each with only its visible fields selected
    /// and decrypted.
    ///
    /// ```swift
    /// var page = try await charts.list(as: principal, where: [.equals(field: "ward", value: "4B")], limit: 50)
    /// while let cursor = page.nextCursor {
    ///     page = try await charts.list(as: principal, where: [.equals(field: "ward", value: "4B")], after: cursor)
    /// }
    /// ```
    ///
    /// - Refused before anything runs (``RecordError/queryRefused(_:)``, audited), whatever the data:
    ///   a criterion or sort on a field the principal may never read, a sort on an encrypted field or
    ///   one hidden on some rows, an encrypted-field search without a blind index, an empty search value.
    /// - One audit record per page (outcome allow, reason `query`), committed before any value is
    ///   decrypted, listing the patient ids of the rows read (attributes `patients-N`: `<length>:<id>`
    ///   joined with `/`) and the visible field names. A page holds at most as many distinct patients
    ///   as fit in one record; the rest come with the next cursor.
    /// - Encrypted-field searches match through the blind index, then each candidate is checked
    ///   against the decrypted value (index collisions are dropped; their patients are in the audit
    ///   record, as rows read).
    /// - Every row is checked again with the engine before it is decrypted: a row the engine denies,
    ///   or a field the engine hides, fails the query (``RecordError/listInconsistent``).
    /// - `breakGlass`: a grant from ``EmergencyAccess`` (its stored state is re-read, so a revocation
    ///   counts at once); the policy's emergency grants add the rows of the patients in the grant's
    ///   scope, only while the grant is active for this principal and session. Deny rules still win.
    public func list(
        as principal: AuthenticatedPrincipal, action: AccessAction = .read, where filters: [RecordFilter] = [],
        orderBy order: RecordOrder = .recordID, limit: Int = 50, after cursor: String? = nil,
        breakGlass emergency: EmergencyGrant? = nil
    ) async throws(RecordError) -> RecordPage {
        let query = try await prepare(principal, action, filters, order, try await current(emergency))
        guard (1...Self.maximumPageSize).contains(limit) else {
            try await refuse(query, "limit must be 1-\(Self.maximumPageSize)")
        }
        let scope = try query.scope(order: order, filters: filters, key: cursorKey)
        let after = try cursor.map { text throws(RecordError) in
            try ListCursor.decode(text, scope: scope, key: cursorKey)
        }
        guard query.plan.kind != .never else {
            let sequence = try await recordQuery(query, patients: [], fields: [], rows: 0, reason: "query")
            return RecordPage(records: [], nextCursor: nil, auditSequence: sequence)
        }

        let decisionFields = schema.fields.filter { $0.storage == .resourceAttribute || $0.storage == .labels }
        let readable = schema.fields.filter { $0.isReadable && query.plan.visibility(of: $0.name) != .never }
        let parsed: [ListedRow]
        let more: Bool
        switch query.backend {
        case .memory(let store):
            (parsed, more) = try query.memoryPage(
                store, order: order, after: after, limit: limit, decisionFields: decisionFields, readable: readable)
        case .sql(let store):
            (parsed, more) = try await sqlPage(
                query, store, order: order, after: after, limit: limit, decisionFields: decisionFields,
                readable: readable)
        }
        // Keep the page within one audit record; the cursor continues after the last row kept.
        var patients: [String] = []
        var kept: [ListedRow] = []
        var cut = more
        for row in parsed {
            if !patients.contains(row.stored.patientID) {
                guard PatientList.fits(patients + [row.stored.patientID]) else {
                    cut = true
                    break
                }
                patients.append(row.stored.patientID)
            }
            kept.append(row)
        }
        // Defence in depth: every row must be allowed by the engine, with at least the fields selected.
        var fieldNames = Set<String>()
        for row in kept {
            let decision = engine.decide(
                principal, action, resource(row.stored.id, row.stored), breakGlass: query.breakGlass)
            guard decision.isAllowed, row.visible.allSatisfy({ decision.isFieldVisible($0) }) else {
                throw .listInconsistent
            }
            fieldNames.formUnion(row.visible)
        }
        let sequence = try await recordQuery(
            query, patients: patients, fields: schema.fields.map(\.name).filter(fieldNames.contains), rows: kept.count,
            reason: "query")

        var records: [GuardedRecord] = []
        for row in kept {
            let values = try open(row)
            if !query.matchesSearch(values, visible: row.visible) { continue }
            records.append(
                GuardedRecord(
                    id: row.stored.id, patientID: row.stored.patientID, values: values, auditSequence: sequence))
        }
        var next: String?
        if cut, let last = kept.last {
            next = try ListCursor(scope: scope, sortValue: last.sortValue, lastID: last.stored.id).encoded(cursorKey)
        }
        return RecordPage(records: records, nextCursor: next, auditSequence: sequence)
    }

    /// The SQL backend's page: the plan, criteria and cursor as one parameterised statement.
    private func sqlPage(
        _ query: ListQuery, _ store: any SQLRecordStore, order: RecordOrder, after: ListCursor?, limit: Int,
        decisionFields: [RecordField], readable: [RecordField]
    ) async throws(RecordError) -> (rows: [ListedRow], more: Bool) {
        // SELECT ids, decision columns, then per readable field (visible?, value-if-visible), then the sort key.
        var sql = SQLBuilder(dialect: store.sqlDialect)
        let table = schema.table
        sql.append("SELECT \(table).\(schema.recordIDColumn), \(table).\(schema.patientIDColumn)")
        for field in decisionFields { sql.append(", \(table).\(field.column)") }
        for field in readable {
            let visible = query.plan.visibility(of: field.name)
            // The WHERE clause holds the plan's row condition, so a field visible exactly where the
            // row is listed is visible on every row read: no CASE (on PostgreSQL each repeated
            // care-team test is a linear `= ANY` over an InitPlan array).
            if visible == .always || visible == query.plan.row {
                sql.append(", 1, \(table).\(field.column)")
            } else {
                sql.append(", CASE WHEN ")
                try query.render(visible, &sql)
                sql.append(" THEN 1 ELSE 0 END, CASE WHEN ")
                try query.render(visible, &sql)
                sql.append(" THEN \(table).\(field.column) END")
            }
        }
        let sortExpression = query.sortExpression(order)
        if let sortExpression { sql.append(", \(sortExpression)") }
        sql.append(" FROM \(table) WHERE ")
        try query.whereClause(&sql)
        let idColumn = "\(table).\(schema.recordIDColumn)"
        let comparison = order.descending ? "<" : ">"
        if let after {
            if let sortExpression {
                sql.append(" AND (\(sortExpression), \(idColumn)) \(comparison) (")
                sql.bind(.text(after.sortValue ?? ""))
                sql.append(", ")
                sql.bind(.text(after.lastID))
                sql.append(")")
            } else {
                sql.append(" AND \(idColumn) \(comparison) ")
                sql.bind(.text(after.lastID))
            }
        }
        let direction = order.descending ? " DESC" : ""
        sql.append(" ORDER BY " + (sortExpression.map { "\($0)\(direction), " } ?? "") + "\(idColumn)\(direction)")
        sql.append(" LIMIT ")
        sql.bind(.integer(Int64(limit + 1)))

        let rows = try await query.run(sql.statement, on: store)
        var parsed: [ListedRow] = []
        for row in rows.prefix(limit) {
            parsed.append(
                try parse(row, decisionFields: decisionFields, readable: readable, sorted: sortExpression != nil))
        }
        return (parsed, rows.count > limit)
    }

    /// How many records `principal` may see that match `filters`: the same rows ``list(as:action:where:orderBy:limit:after:breakGlass:)``
    /// would return over all its pages. Refused like a list; audited (reason `count`, attribute
    /// `row-count`). A search on an encrypted field is refused here (blind-index collisions would
    /// be counted): list it instead.
    public func count(
        as principal: AuthenticatedPrincipal, action: AccessAction = .read, where filters: [RecordFilter] = [],
        breakGlass emergency: EmergencyGrant? = nil
    ) async throws(RecordError) -> Int {
        let query = try await prepare(principal, action, filters, .recordID, try await current(emergency))
        if query.hasEncryptedSearch { try await refuse(query, "count cannot search an encrypted field; list instead") }
        var total = 0
        if query.plan.kind != .never, case .memory(let store) = query.backend {
            total = try query.memoryRows(store).count
        } else if query.plan.kind != .never, case .sql(let store) = query.backend {
            var sql = SQLBuilder(dialect: store.sqlDialect)
            sql.append("SELECT COUNT(*) FROM \(schema.table) WHERE ")
            try query.whereClause(&sql)
            let rows = try await query.run(sql.statement, on: store)
            guard rows.count == 1, rows[0].count == 1, case .integer(let value) = rows[0][0], value >= 0,
                let counted = Int(exactly: value)
            else { throw .storeUnavailable("corrupt count") }
            total = counted
        }
        _ = try await recordQuery(query, patients: [], fields: [], rows: total, reason: "count")
        return total
    }

    // MARK: Steps

    /// Plans, translates and checks the criteria and sort; audited refusals.
    private func prepare(
        _ principal: AuthenticatedPrincipal, _ action: AccessAction, _ filters: [RecordFilter], _ order: RecordOrder,
        _ breakGlass: BreakGlassGrant?
    ) async throws(RecordError) -> ListQuery {
        let backend: ListBackend
        let translator: PlanTranslator
        if let store = store as? any SQLRecordStore {
            backend = .sql(store)
            translator = PlanTranslator(schema: schema, dialect: store.sqlDialect, careTeams: store.careTeamTable)
        } else if let store = store as? InMemoryRecordStore {
            // Evaluated in memory; checked like SQL (the store's care teams stand in for a table).
            backend = .memory(store)
            translator = PlanTranslator(
                schema: schema, dialect: .sqlite, careTeams: try? CareTeamTable(table: "care_team"))
        } else {
            throw .listingUnsupported
        }
        let plan = engine.plan(principal, action, resourceType: schema.resourceType, breakGlass: breakGlass)
        var query = ListQuery(
            schema: schema, plan: plan, translator: translator, backend: backend, principal: principal,
            action: action, breakGlass: breakGlass)
        do {
            try translator.check(plan)
        } catch {
            throw .planUntranslatable(error.description)
        }
        for filter in filters {
            switch filter {
            case .patient(let id):
                guard AuditIdentifier.isValid(id) else { try await refuse(query, "invalid patient id") }
                query.criteria.append(.patient(id))
            case .equals(let name, let value):
                guard let field = schema.field(named: name), field.isReadable else {
                    try await refuse(query, "field '\(name)' cannot be searched")
                }
                let visible = plan.visibility(of: name)
                guard visible != .never else { try await refuse(query, "field '\(name)' is not readable") }
                guard !value.isEmpty else { try await refuse(query, "empty search value") }
                if field.storage == .encrypted {
                    guard let index = field.blindIndex, let column = field.blindIndexColumn else {
                        try await refuse(query, "field '\(name)' has no blind index")
                    }
                    let normalized = index.normalization.normalize(value)
                    guard !normalized.isEmpty else { try await refuse(query, "empty search value") }
                    query.criteria.append(
                        .blindIndex(
                            field: name, column: column, value: index.value(for: value).bytes, visible: visible,
                            normalized: normalized, normalization: index.normalization))
                } else {
                    query.criteria.append(.plain(column: field.column, value: value, visible: visible))
                }
            }
        }
        if case .field(let name) = order.key {
            guard let field = schema.field(named: name), field.isReadable else {
                try await refuse(query, "field '\(name)' cannot be sorted")
            }
            guard field.storage == .plain else { try await refuse(query, "encrypted field '\(name)' cannot be sorted") }
            let visible = plan.visibility(of: name)
            guard visible == .always || visible == plan.row else {
                try await refuse(query, "field '\(name)' is hidden on some rows and cannot be sorted")
            }
        }
        return query
    }

    /// Audits a refused query (outcome deny) and throws ``RecordError/queryRefused(_:)``.
    private func refuse(_ query: ListQuery, _ reason: String) async throws(RecordError) -> Never {
        _ = try await recordQuery(query, patients: [], fields: [], rows: 0, reason: "query-refused", outcome: .deny)
        throw .queryRefused(reason)
    }

    /// Appends the query's audit record, committed; any failure is ``RecordError/auditUnavailable``.
    private func recordQuery(
        _ query: ListQuery, patients: [String], fields: [String], rows: Int, reason: String,
        outcome: AuditOutcome = .allow
    ) async throws(RecordError) -> UInt64 {
        var attributes = PatientList.attributes(patients)
        attributes["row-count"] = String(rows)
        attributes["patient-count"] = String(patients.count)
        attributes["plan"] = query.plan.kind.rawValue
        let principal = query.principal
        let reviewed = query.breakGlass != nil
        if let grant = query.breakGlass {
            attributes["break-glass-grant"] = grant.id
            attributes["break-glass-status"] = query.plan.usesBreakGlass ? "active" : "not-used"
        }
        do {
            let event = try AuditEvent(
                kind: .accessDecision, timestamp: AuditEvent.timestamp(for: now()), actorID: principal.subject.id,
                actorRole: AuditEvent.roleText(principal.subject.roles, known: engine.policy.roles),
                sessionID: principal.sessionHandle, action: query.action.rawValue, resourceType: schema.resourceType,
                fields: fields, outcome: outcome, reason: reason, ruleIDs: Array(query.plan.ruleIDs.prefix(256)),
                breakGlass: reviewed, breakGlassReason: reviewed ? query.breakGlass?.reason.category.rawValue : nil,
                attributes: attributes)
            return try await audit.append(event, durability: .committed)
        } catch {
            throw .auditUnavailable
        }
    }

    private func parse(_ row: [SQLValue], decisionFields: [RecordField], readable: [RecordField], sorted: Bool)
        throws(RecordError) -> ListedRow
    {
        let expected = 2 + decisionFields.count + 2 * readable.count + (sorted ? 1 : 0)
        guard row.count == expected, case .text(let id) = row[0], case .text(let patient) = row[1] else {
            throw .storeUnavailable("corrupt row")
        }
        var columns: [String: StoredValue] = [:]
        var position = 2
        for field in decisionFields {
            if case .text(let text) = row[position] { columns[field.column] = .text(text) }
            position += 1
        }
        var visible: [String] = []
        for field in readable {
            guard case .integer(let flag) = row[position] else { throw .storeUnavailable("corrupt row") }
            if flag == 1 {
                visible.append(field.name)
                switch row[position + 1] {
                case .null: break
                case .text(let text): columns[field.column] = .text(text)
                case .bytes(let bytes): columns[field.column] = .bytes(bytes)
                case .integer: throw .corruptRecord(field: field.name)
                }
            }
            position += 2
        }
        var sortValue: String?
        if sorted, case .text(let text) = row[position] { sortValue = text }
        return ListedRow(
            stored: StoredRecord(id: id, patientID: patient, columns: columns), visible: visible, sortValue: sortValue)
    }

    /// Decrypts the row's visible fields (and only those).
    private func open(_ row: ListedRow) throws(RecordError) -> [String: String] {
        var values: [String: String] = [:]
        for name in row.visible {
            guard let field = schema.field(named: name) else { continue }
            switch row.stored.columns[field.column] {
            case nil: continue
            case .bytes(let envelope) where field.storage == .encrypted:
                let context = FieldContext(table: schema.table, recordID: row.stored.id, field: field.name)
                do {
                    values[field.name] = try cipher.open(envelope, context: context)
                } catch {
                    throw .corruptRecord(field: field.name)
                }
            case .text(let text) where field.storage == .plain: values[field.name] = text
            default: throw .corruptRecord(field: field.name)
            }
        }
        return values
    }
}

/// A row as read by a list query: the stored record (visible fields only), which fields the SQL
/// found visible, and its sort key.
struct ListedRow {
    var stored: StoredRecord
    var visible: [String]
    var sortValue: String?
}

/// Where a list query runs: SQL, or ``InMemoryRecordStore`` (the plan evaluated row by row).
enum ListBackend {
    case sql(any SQLRecordStore)
    case memory(InMemoryRecordStore)
}

/// One checked search criterion.
enum ListCriterion {
    case patient(String)
    case plain(column: String, value: String, visible: PlanCondition)
    case blindIndex(
        field: String, column: String, value: [UInt8], visible: PlanCondition, normalized: String,
        normalization: BlindIndexNormalization)
}

/// A list or count query after planning and checking.
struct ListQuery {
    let schema: RecordSchema
    let plan: AccessPlan
    let translator: PlanTranslator
    let backend: ListBackend
    let principal: AuthenticatedPrincipal
    let action: AccessAction
    let breakGlass: BreakGlassGrant?
    var criteria: [ListCriterion] = []

    var hasEncryptedSearch: Bool {
        criteria.contains { if case .blindIndex = $0 { true } else { false } }
    }

    /// What a cursor is bound to: a keyed digest of the subject, session, action, type, sort and
    /// criteria (the cursor is readable by its holder; search values must not be).
    func scope(order: RecordOrder, filters: [RecordFilter], key: CursorKey) throws(RecordError) -> String {
        var parts = [
            principal.subject.id, principal.sessionHandle, action.rawValue, schema.resourceType, "\(order.key)",
            "\(order.descending)",
        ]
        parts += filters.map { "\($0)" }
        return Hex.encode(try key.mac(parts.joined(separator: "\u{1F}")))
    }

    func render(_ condition: PlanCondition, _ sql: inout SQLBuilder) throws(RecordError) {
        do {
            try translator.render(condition, plan, into: &sql)
        } catch {
            throw .planUntranslatable(error.description)
        }
    }

    /// The plan's row condition and every criterion (a criterion on a field only holds where it is visible).
    func whereClause(_ sql: inout SQLBuilder) throws(RecordError) {
        try render(plan.row, &sql)
        let table = schema.table
        for criterion in criteria {
            sql.append(" AND ")
            switch criterion {
            case .patient(let id):
                sql.append("\(table).\(schema.patientIDColumn) = ")
                sql.bind(.text(id))
            case .plain(let column, let value, let visible):
                sql.append("(")
                try render(visible, &sql)
                sql.append(" AND \(table).\(column) = ")
                sql.bind(.text(value))
                sql.append(")")
            case .blindIndex(_, let column, let value, let visible, _, _):
                sql.append("(")
                try render(visible, &sql)
                sql.append(" AND \(table).\(column) = ")
                sql.bind(.bytes(value))
                sql.append(")")
            }
        }
    }

    /// The sort expression for a field or patient order (`nil` for the record id).
    func sortExpression(_ order: RecordOrder) -> String? {
        switch order.key {
        case .recordID: nil
        case .patientID: "\(schema.table).\(schema.patientIDColumn)"
        case .field(let name): schema.field(named: name).map { "COALESCE(\(schema.table).\($0.column), '')" }
        }
    }

    /// Whether decrypted values match every encrypted-field search (drops blind-index collisions).
    func matchesSearch(_ values: [String: String], visible: [String]) -> Bool {
        for case .blindIndex(let field, _, _, _, let normalized, let normalization) in criteria {
            guard let value = values[field], normalization.normalize(value) == normalized else { return false }
        }
        return true
    }

    func run(_ statement: SQLStatement, on store: any SQLRecordStore) async throws(RecordError) -> [[SQLValue]] {
        do {
            return try await store.rows(statement)
        } catch {
            throw .storeUnavailable(String(describing: type(of: error)))
        }
    }
}

/// Patient ids in audit attributes: `patients-0` … `patients-27`, each `<length>:<id>` entries joined
/// with `/` (unambiguous whatever the ids hold), at most 128 bytes per attribute.
enum PatientList {
    static let maximumAttributes = 28

    static func attributes(_ patients: [String]) -> [String: String] {
        var result: [String: String] = [:]
        for (index, chunk) in chunks(patients).enumerated() { result["patients-\(index)"] = chunk }
        return result
    }

    static func fits(_ patients: [String]) -> Bool { chunks(patients).count <= maximumAttributes }

    private static func chunks(_ patients: [String]) -> [String] {
        var chunks: [String] = []
        var current = ""
        for patient in patients {
            let entry = "\(patient.utf8.count):\(patient)"
            let next = current.isEmpty ? entry : current + "/" + entry
            if next.utf8.count <= AuditIdentifier.maximumLength {
                current = next
            } else {
                if !current.isEmpty { chunks.append(current) }
                current = entry
            }
        }
        if !current.isEmpty { chunks.append(current) }
        return chunks
    }
}
