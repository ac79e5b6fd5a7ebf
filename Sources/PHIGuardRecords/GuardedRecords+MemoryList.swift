internal import PHIGuardAccess

/// `list` and `count` on ``InMemoryRecordStore``: the plan evaluated row by row with the semantics of
/// its SQL translation (``PlanTranslator``), so the in-memory store answers exactly as the SQL stores
/// (text compared byte for byte, labels and attributes as the translation reads them).
extension ListQuery {
    /// Every row of the table the plan and the criteria admit, in no particular order.
    func memoryRows(_ store: InMemoryRecordStore) throws(RecordError) -> [StoredRecord] {
        store.records(schema: schema).filter { admits($0, store) }
    }

    /// The page after `after`, sorted as the SQL stores sort (UTF-8 bytes), and whether more follow.
    func memoryPage(
        _ store: InMemoryRecordStore, order: RecordOrder, after: ListCursor?, limit: Int, decisionFields: [RecordField],
        readable: [RecordField]
    ) throws(RecordError) -> (rows: [ListedRow], more: Bool) {
        let sorted = sortExpression(order) != nil
        func key(_ record: StoredRecord) -> (sort: [UInt8], id: [UInt8]) {
            (sorted ? Array(sortValue(record, order).utf8) : [], Array(record.id.utf8))
        }
        func before(_ lhs: (sort: [UInt8], id: [UInt8]), _ rhs: (sort: [UInt8], id: [UInt8])) -> Bool {
            lhs.sort == rhs.sort
                ? lhs.id.lexicographicallyPrecedes(rhs.id) : lhs.sort.lexicographicallyPrecedes(rhs.sort)
        }
        var rows = try memoryRows(store).map { (record: $0, key: key($0)) }
        if let after {
            let mark = (sort: sorted ? Array((after.sortValue ?? "").utf8) : [], id: Array(after.lastID.utf8))
            rows = rows.filter { order.descending ? before($0.key, mark) : before(mark, $0.key) }
        }
        rows.sort { order.descending ? before($1.key, $0.key) : before($0.key, $1.key) }
        var page: [ListedRow] = []
        for (record, _) in rows.prefix(limit) {
            var columns: [String: StoredValue] = [:]
            for field in decisionFields {
                if case .text(let text) = record.columns[field.column] { columns[field.column] = .text(text) }
            }
            var visible: [String] = []
            for field in readable where holds(plan.visibility(of: field.name), record, store) {
                visible.append(field.name)
                if let value = record.columns[field.column] { columns[field.column] = value }
            }
            page.append(
                ListedRow(
                    stored: StoredRecord(id: record.id, patientID: record.patientID, columns: columns),
                    visible: visible, sortValue: sorted ? sortValue(record, order) : nil))
        }
        return (page, rows.count > limit)
    }

    /// The plan's row condition and every criterion (as `whereClause`).
    private func admits(_ record: StoredRecord, _ store: InMemoryRecordStore) -> Bool {
        guard holds(plan.row, record, store) else { return false }
        for criterion in criteria {
            switch criterion {
            case .patient(let id):
                guard Self.same(record.patientID, id) else { return false }
            case .plain(let column, let value, let visible):
                guard holds(visible, record, store), case .text(let text) = record.columns[column],
                    Self.same(text, value)
                else { return false }
            case .blindIndex(_, let column, let value, let visible, _, _):
                guard holds(visible, record, store), record.columns[column] == .bytes(value) else { return false }
            }
        }
        return true
    }

    /// The sort key (`COALESCE(column, '')` for a field; the patient id).
    private func sortValue(_ record: StoredRecord, _ order: RecordOrder) -> String {
        switch order.key {
        case .recordID: return record.id
        case .patientID: return record.patientID
        case .field(let name):
            guard let field = schema.field(named: name), case .text(let text) = record.columns[field.column] else {
                return ""
            }
            return text
        }
    }

    /// Whether `condition` holds for `record`, as its SQL translation would decide.
    func holds(_ condition: PlanCondition, _ record: StoredRecord, _ store: InMemoryRecordStore) -> Bool {
        switch condition {
        case .always: return true
        case .never: return false
        case .patientIs(let id): return Self.same(record.patientID, id)
        case .patientIn(let ids): return ids.contains { Self.same(record.patientID, $0) }
        case .onCareTeam(let subjectID):
            return !record.patientID.isEmpty
                && store.isOnCareTeam(subjectID: Array(subjectID.utf8), patientID: Array(record.patientID.utf8))
        case .attributePresent(let key):
            guard case .text(let text) = attribute(key, record) else { return false }
            return !text.isEmpty
        case .attributeEquals(let key, let value):
            guard case .text(let text) = attribute(key, record) else { return false }
            return Self.same(text, value)
        case .attributeIsPrintableASCII(let key):
            guard case .text(let text) = attribute(key, record) else { return false }
            return Self.isPrintableASCII(text)
        case .hasLabel(let label):
            guard let labels = labels(record), label.utf8.allSatisfy({ $0 > 0x20 && $0 <= 0x7E }) else { return false }
            return Self.isPrintableASCII(labels) && Self.tokens(labels).contains(Array(label.utf8))
        case .hasUndeclaredLabel:
            guard let labels = labels(record) else { return false }
            let declared = Set(
                plan.declaredLabels.filter { $0.utf8.allSatisfy { $0 > 0x20 && $0 <= 0x7E } }.map { Array($0.utf8) })
            return !Self.isPrintableASCII(labels) || Self.tokens(labels).contains { !declared.contains($0) }
        case .and(let parts): return parts.allSatisfy { holds($0, record, store) }
        case .or(let parts): return parts.contains { holds($0, record, store) }
        case .not(let part): return !holds(part, record, store)
        }
    }

    /// The stored value of resource attribute `key` (`nil` when the schema has no such column).
    private func attribute(_ key: String, _ record: StoredRecord) -> StoredValue? {
        guard let field = schema.field(named: key), field.storage == .resourceAttribute else { return nil }
        return record.columns[field.column]
    }

    /// The labels as text (`nil` without a labels column; a missing or non-text cell is no labels).
    private func labels(_ record: StoredRecord) -> String? {
        guard let field = schema.fields.first(where: { $0.storage == .labels }) else { return nil }
        if case .text(let text) = record.columns[field.column] { return text }
        return ""
    }

    private static func tokens(_ labels: String) -> [[UInt8]] {
        labels.utf8.split(separator: UInt8(ascii: " ")).map { Array($0) }
    }

    private static func isPrintableASCII(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 >= 0x20 && $0 <= 0x7E }
    }

    /// Byte-for-byte equality (SQL's, not Swift's canonical equivalence).
    private static func same(_ lhs: String, _ rhs: String) -> Bool {
        lhs.utf8.elementsEqual(rhs.utf8)
    }
}
