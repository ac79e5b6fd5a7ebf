public import PHIGuardAccess

/// The SQL dialects the plan translator writes.
public enum SQLDialect: String, Sendable, Hashable {
    /// SQLite 3.35 or later (`?` placeholders).
    case sqlite
    /// PostgreSQL 12 or later (`$1`, `$2`, … placeholders).
    case postgres
}

/// A bound parameter of a translated query, or a cell of its result.
public enum SQLValue: Sendable, Hashable, CustomStringConvertible {
    /// `NULL`.
    case null
    /// Text.
    case text(String)
    /// Bytes (an envelope or a blind-index value).
    case bytes([UInt8])
    /// An integer.
    case integer(Int64)

    /// The kind and size only (values may be PHI or secret-derived).
    public var description: String {
        switch self {
        case .null: "NULL"
        case .text(let text): "text(\(text.utf8.count) bytes)"
        case .bytes(let bytes): "bytes(\(bytes.count))"
        case .integer: "integer"
        }
    }
}

/// SQL text with placeholders and the values bound to them, in order. Values never appear in `text`.
public struct SQLStatement: Sendable, Hashable {
    /// The statement, with `?` (SQLite) or `$n` (PostgreSQL) placeholders.
    public let text: String
    /// The bound values, in placeholder order.
    public let parameters: [SQLValue]

    package init(text: String, parameters: [SQLValue]) {
        self.text = text
        self.parameters = parameters
    }
}

/// The app's care-team table, for `careTeam` conditions of subjects that carry no care-team list:
/// one row per (care-team member, patient). Names are validated SQL names.
///
/// ```swift
/// let careTeams = try CareTeamTable(table: "care_team", subjectColumn: "user_id", patientColumn: "patient_id")
/// ```
///
/// A list query filters with one subquery over the table: one bound parameter whatever the team's
/// size, and the database uses the index on `(user_id, patient_id)`. On SQLite it is
/// `patient_id IN (SELECT patient_id FROM care_team WHERE user_id = ?)`; on PostgreSQL
/// `patient_id = ANY (ARRAY(SELECT patient_id FROM care_team WHERE user_id = $1))`, which the server
/// evaluates once and then probes through the records' patient-id index. A subject whose
/// `Subject.careTeamPatients` is set (the engine uses that list first) is filtered with a bound id
/// list instead (`IN (?, ?, …)`, up to ``PlanTranslator/maximumBoundIDs`` ids).
///
/// Measured (first page of 50 of a 200-patient care team, server-side `EXPLAIN ANALYZE`, warm):
/// on PostgreSQL 10k / 100k / 1M rows took 1.1 / 1.6 / 2.0 ms with `= ANY (ARRAY(…))`; the former
/// `IN (SELECT …)` took 2.4 / 1.3 / 1,300 ms, because at 1M rows the planner walked the primary key
/// in `ORDER BY` order and probed the care team for each of ~500,000 rows (`RecordsListBenchmarks`, the
/// whole `list` call: 1,780 ms at 1M before, 3.3 ms at 10k, 100k and 1M now). On SQLite
/// (`RecordsListBenchmarks`) the subquery was flat from 10k to 1M rows (1.0 → 1.2 ms; the bound
/// list 1.4 → 4.0 ms). Either way the work grows with the team, not the table: a team holding most
/// of a large table's patients reads all of its rows before sorting the page.
public struct CareTeamTable: Sendable, Hashable {
    /// The table.
    public let table: String
    /// The column of the care-team member's subject id.
    public let subjectColumn: String
    /// The column of the patient id.
    public let patientColumn: String

    /// Throws ``RecordSchemaError/invalidSQLName(_:)`` for a name that is not `[A-Za-z_][A-Za-z0-9_]{0,62}`.
    public init(table: String, subjectColumn: String = "subject_id", patientColumn: String = "patient_id")
        throws(RecordSchemaError)
    {
        for name in [table, subjectColumn, patientColumn] where !RecordSchema.isValidSQLName(name) {
            throw .invalidSQLName(name)
        }
        self.table = table
        self.subjectColumn = subjectColumn
        self.patientColumn = patientColumn
    }

    /// `CREATE TABLE IF NOT EXISTS` and its index, for apps that keep care teams in the record database.
    public var createStatements: [String] {
        [
            "CREATE TABLE IF NOT EXISTS \(table) (\(subjectColumn) TEXT NOT NULL, \(patientColumn) TEXT NOT NULL, "
                + "PRIMARY KEY (\(subjectColumn), \(patientColumn)))"
        ]
    }
}

/// Why a plan cannot become SQL. Names rules, fields and constructs, never values.
public enum PlanTranslationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A rule's condition needs something the schema or store does not have (a resource attribute
    /// with no column, labels with no labels column, care-team membership with no care-team table).
    case untranslatable(ruleID: String, construct: String)
    /// A bound care-team list is longer than ``PlanTranslator/maximumBoundIDs``.
    case tooManyIDs(Int)

    /// Names the rule and the construct.
    public var description: String {
        switch self {
        case .untranslatable(let rule, let construct):
            "policy rule '\(rule)' cannot be translated to SQL: \(construct)"
        case .tooManyIDs(let count):
            "a care-team list of \(count) ids is too long to bind; use a care-team table"
        }
    }
}

/// Builds SQL text and its parameters together, so placeholders are numbered in text order.
package struct SQLBuilder {
    package let dialect: SQLDialect
    package private(set) var text = ""
    package private(set) var parameters: [SQLValue] = []

    package init(dialect: SQLDialect) { self.dialect = dialect }

    package mutating func append(_ sql: String) { text += sql }

    /// Appends a placeholder bound to `value`.
    package mutating func bind(_ value: SQLValue) {
        parameters.append(value)
        text += dialect == .sqlite ? "?" : "$\(parameters.count)"
    }

    package var statement: SQLStatement { SQLStatement(text: text, parameters: parameters) }
}

/// Translates an `AccessPlan` into SQL predicates over a ``RecordSchema``'s table, with bound
/// parameters only: no value of the plan (patient ids, attribute values, labels) is ever written
/// into the SQL text; table and column names come from the validated schema.
///
/// ```swift
/// let translator = try PlanTranslator(schema: charts, dialect: .postgres, careTeams: careTeamTable)
/// let sql = try translator.whereClause(engine.plan(principal, .read, resourceType: "chart"))
/// // sql.text: "(charts.patient_id IS NOT NULL AND charts.patient_id <> ''
/// //   AND charts.patient_id = ANY (ARRAY(SELECT … WHERE care_team.user_id = $1 AND …)))"
/// ```
public struct PlanTranslator: Sendable {
    /// The most ids a care-team list may bind (PostgreSQL allows 65,535 parameters in all).
    public static let maximumBoundIDs = 10_000

    /// The schema whose table is filtered.
    public let schema: RecordSchema
    /// The dialect.
    public let dialect: SQLDialect
    /// The care-team table, if the app keeps one.
    public let careTeams: CareTeamTable?

    /// A translator for `schema`'s table in `dialect`.
    public init(schema: RecordSchema, dialect: SQLDialect, careTeams: CareTeamTable? = nil) {
        self.schema = schema
        self.dialect = dialect
        self.careTeams = careTeams
    }

    /// Refuses `plan` when it needs what the schema or store lacks, naming the first rule that does.
    public func check(_ plan: AccessPlan) throws(PlanTranslationError) {
        for requirement in plan.requirements {
            switch requirement.construct {
            case .careTeamMembership where careTeams == nil:
                throw .untranslatable(
                    ruleID: requirement.ruleID, construct: "careTeam needs a care-team table (or the subject's list)")
            case .resourceAttribute(let key) where attributeColumn(key) == nil:
                throw .untranslatable(
                    ruleID: requirement.ruleID,
                    construct: "resource attribute '\(key)' has no resourceAttribute column in table \(schema.table)")
            case .labels where labelsColumn == nil:
                throw .untranslatable(
                    ruleID: requirement.ruleID, construct: "sensitivity labels need a labels column in \(schema.table)")
            default: continue
            }
        }
    }

    /// The row condition of `plan` alone, as a statement fragment (for tools and tests).
    public func whereClause(_ plan: AccessPlan) throws(PlanTranslationError) -> SQLStatement {
        try check(plan)
        var builder = SQLBuilder(dialect: dialect)
        try render(plan.row, plan, into: &builder)
        return builder.statement
    }

    /// Appends `condition` as a parenthesised boolean SQL expression that is never `NULL` (every
    /// atom is two-valued: `COALESCE(…, FALSE)`, or for patient ids `patient IS NOT NULL AND …`),
    /// so `NOT` keeps its two-valued meaning.
    package func render(_ condition: PlanCondition, _ plan: AccessPlan, into sql: inout SQLBuilder)
        throws(PlanTranslationError)
    {
        let patient = "\(schema.table).\(schema.patientIDColumn)"
        switch condition {
        case .always: sql.append("(1 = 1)")
        case .never: sql.append("(1 = 0)")
        // Patient atoms are `(patient IS NOT NULL AND …)` rather than `COALESCE(…, FALSE)`: as
        // two-valued (a NULL patient gives FALSE; every compared value is non-NULL), but the
        // database can use the patient-id index (through COALESCE, SQLite scanned the whole table
        // in id order: 224 ms instead of 1 ms for a first page of 50 out of 1M rows).
        case .patientIs(let id):
            sql.append("(\(patient) IS NOT NULL AND \(patient) = ")
            sql.bind(.text(id))
            sql.append(")")
        case .patientIn(let ids):
            guard ids.count <= Self.maximumBoundIDs else { throw .tooManyIDs(ids.count) }
            guard !ids.isEmpty else {
                sql.append("(1 = 0)")
                return
            }
            sql.append("(\(patient) IS NOT NULL AND \(patient) IN (")
            for (index, id) in ids.enumerated() {
                if index > 0 { sql.append(", ") }
                sql.bind(.text(id))
            }
            sql.append("))")
        case .onCareTeam(let subjectID):
            guard let team = careTeams else {
                throw .untranslatable(
                    ruleID: plan.ruleIDs.first ?? "?", construct: "careTeam without a care-team table")
            }
            // SQLite: `IN (SELECT …)`, which it drives from the care-team index. PostgreSQL:
            // `= ANY (ARRAY(SELECT …))`, an InitPlan run once whose array is probed through the
            // patient-id index. With `IN (SELECT …)` the planner, estimating the team as an average
            // one, walked the primary key in ORDER BY order and probed the care team per row: a
            // first page of 50 of a 200-patient team at 1M rows took 1.3 s instead of 2 ms.
            // The array holds no NULL (`member IS NOT NULL`), so `= ANY` is two-valued; an empty
            // team gives FALSE.
            let member = "\(team.table).\(team.patientColumn)"
            let membership = dialect == .sqlite ? "IN (" : "= ANY (ARRAY("
            sql.append(
                "(\(patient) IS NOT NULL AND \(patient) <> '' AND \(patient) \(membership)SELECT \(member) "
                    + "FROM \(team.table) WHERE \(team.table).\(team.subjectColumn) = ")
            sql.bind(.text(subjectID))
            sql.append(" AND \(member) IS NOT NULL)" + (dialect == .sqlite ? ")" : "))"))
        case .attributePresent(let key):
            let column = try column(key, plan)
            sql.append(
                dialect == .sqlite
                    ? "(typeof(\(column)) = 'text' AND \(column) <> '')" : "(\(column) IS NOT NULL AND \(column) <> '')"
            )
        case .attributeEquals(let key, let value):
            let column = try column(key, plan)
            sql.append("COALESCE(\(column) = ")
            sql.bind(.text(value))
            sql.append(", FALSE)")
        case .attributeIsPrintableASCII(let key):
            sql.append("COALESCE(" + printableASCII(try column(key, plan)) + ", FALSE)")
        case .hasLabel(let label):
            guard let labels = labelsExpression, label.utf8.allSatisfy({ $0 > 0x20 && $0 <= 0x7E }) else {
                sql.append("(1 = 0)")
                return
            }
            sql.append(
                "(\(printableASCII(labels.raw)) AND \(dialect == .sqlite ? "instr" : "strpos")(\(labels.padded), ")
            sql.bind(.text(" \(label) "))
            sql.append(") > 0)")
        case .hasUndeclaredLabel:
            guard let labels = labelsExpression else {
                sql.append("(1 = 0)")
                return
            }
            let declared = plan.declaredLabels.filter { $0.utf8.allSatisfy { $0 > 0x20 && $0 <= 0x7E } }
            sql.append("(NOT \(printableASCII(labels.raw)) OR trim(")
            sql.append(String(repeating: "replace(", count: declared.count))
            sql.append(labels.padded)
            for label in declared {
                sql.append(", ")
                sql.bind(.text(" \(label) "))
                sql.append(", ' ')")
            }
            sql.append(") <> '')")
        case .and(let parts), .or(let parts):
            let joiner: String
            if case .and = condition { joiner = " AND " } else { joiner = " OR " }
            sql.append("(")
            for (index, part) in parts.enumerated() {
                if index > 0 { sql.append(joiner) }
                try render(part, plan, into: &sql)
            }
            sql.append(")")
        case .not(let part):
            sql.append("(NOT ")
            try render(part, plan, into: &sql)
            sql.append(")")
        }
    }

    /// The column of resource attribute `key`, qualified.
    private func attributeColumn(_ key: String) -> String? {
        guard let field = schema.field(named: key), field.storage == .resourceAttribute else { return nil }
        return "\(schema.table).\(field.column)"
    }

    private func column(_ key: String, _ plan: AccessPlan) throws(PlanTranslationError) -> String {
        guard let column = attributeColumn(key) else {
            let rule = plan.requirements.first { $0.construct == .resourceAttribute(key) }?.ruleID ?? "?"
            throw .untranslatable(ruleID: rule, construct: "resource attribute '\(key)' has no column")
        }
        return column
    }

    private var labelsColumn: String? {
        schema.fields.first { $0.storage == .labels }.map { "\(schema.table).\($0.column)" }
    }

    /// The labels as text (a non-text cell is no labels, as the engine sees it), and padded: every
    /// token between two spaces of its own (`' ' || replace(labels, ' ', '  ') || ' '`).
    private var labelsExpression: (raw: String, padded: String)? {
        guard let column = labelsColumn else { return nil }
        let raw =
            dialect == .sqlite
            ? "(CASE WHEN typeof(\(column)) = 'text' THEN \(column) ELSE '' END)"
            : "COALESCE(\(column), '')"
        return (raw, "(' ' || replace(\(raw), ' ', '  ') || ' ')")
    }

    /// True when `expression` holds printable ASCII (0x20–0x7E) only.
    private func printableASCII(_ expression: String) -> String {
        dialect == .sqlite ? "(\(expression) NOT GLOB '*[^ -~]*')" : "(\(expression) !~ '[^ -~]')"
    }
}
