internal import Foundation
@_spi(PolicyEvaluation) package import PHIGuardAccess
package import PHIGuardRecords

/// The exactness differential of the access plan's SQL translation: random policies × random data
/// sets with care-team links; for every role and action, the rows (and per-row visible fields) the
/// translated SQL selects must equal those the engine's `decide` allows (on rows holding non-ASCII
/// attribute or label text the SQL may be stricter, counted apart, and never wider). Package-only: the SQLite and
/// PostgreSQL test suites run it against their stores.
package enum PlanDifferential {
    /// The resource type, fields and table shape every generated policy and data set uses.
    package static let fields = ["f0", "f1", "f2", "f3"]
    package static let labels = ["l0", "l1", "l2"]
    /// "K" because the stored KELVIN SIGN (U+212A) is canonically equivalent to it (the engine's `==`).
    package static let statuses = ["a", "b", "K"]
    package static let wards = ["w1", "w2"]

    /// The schema of data set `index` (table `diff_docs_<index>`).
    package static func schema(_ index: Int) throws -> RecordSchema {
        try RecordSchema(
            resourceType: "doc", table: "diff_docs_\(index)",
            fields: fields.map { RecordField.plain($0) } + [
                .resourceAttribute("status"), .resourceAttribute("ward"), .labels(),
            ])
    }

    /// A deterministic generator (SplitMix64).
    package struct Random: RandomNumberGenerator {
        var state: UInt64
        package init(seed: UInt64) { state = seed }
        package mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// One stored row of a data set.
    package struct Row: Sendable {
        package var id: String
        package var patientID: String
        package var status: String?
        package var ward: String?
        package var labels: String?
        package var values: [String: String]
    }

    /// A data set: rows, and care-team links (subject id → patients).
    package struct DataSet: Sendable {
        package var rows: [Row]
        package var careTeams: [String: Set<String>]
        package let subjects: [String]
    }

    /// A care-team directory over a data set's links (what the engine consults).
    package struct Directory: CareTeamDirectory {
        let links: [String: Set<String>]
        package init(_ links: [String: Set<String>]) { self.links = links }
        package func isOnCareTeam(subjectID: String, patientID: String) -> Bool {
            links[subjectID]?.contains(patientID) ?? false
        }
    }

    /// Random rows: patients `p-0…`, attribute values including absent, empty and non-ASCII ones,
    /// labels including undeclared and oddly spaced ones; care teams for subjects `u-0…u-5`.
    package static func dataSet(records: Int, seed: UInt64) -> DataSet {
        var random = Random(seed: seed)
        let patients = max(records / 4, 4)
        func pick<T>(_ options: [T]) -> T { options[Int(random.next() % UInt64(options.count))] }
        var rows: [Row] = []
        for index in 0..<records {
            let labelTokens = (labels + ["zz", "l0"]).filter { _ in random.next() % 4 == 0 }
            let labelText: String? = pick([
                labelTokens.joined(separator: " "), labelTokens.joined(separator: "  "),
                " " + labelTokens.joined(separator: " "),
                labelTokens.joined(separator: " "), "",
            ])
            var values: [String: String] = [:]
            for field in fields where random.next() % 5 != 0 { values[field] = "\(field)-\(index)" }
            rows.append(
                Row(
                    id: "r-\(index)", patientID: "p-\(random.next() % UInt64(patients))",
                    status: pick(statuses.map(Optional.some) + [nil, "", "\u{212A}"]),
                    ward: pick(wards.map(Optional.some) + [nil, ""]),
                    labels: random.next() % 10 == 0 ? nil : labelText, values: values))
        }
        let subjects = (0..<6).map { "u-\($0)" }
        var teams: [String: Set<String>] = [:]
        for subject in subjects {
            teams[subject] = Set(
                (0..<(random.next() % UInt64(patients))).map { _ in "p-\(random.next() % UInt64(patients))" })
        }
        return DataSet(rows: rows, careTeams: teams, subjects: subjects)
    }

    /// A random valid policy over type `doc` (roles with inheritance, allows and denies, field rules,
    /// relationships, attribute comparisons, labels, time windows).
    package static func policy(seed: UInt64) throws -> CompiledPolicy {
        var random = Random(seed: seed)
        func chance(_ percent: UInt64) -> Bool { random.next() % 100 < percent }
        func subset<T>(_ items: [T], minimum: Int = 0) -> [T] {
            var chosen = items.filter { _ in chance(50) }
            if chosen.count < minimum, let first = items.first { chosen = [first] }
            return chosen
        }
        let roleCount = 2 + Int(random.next() % 4)
        var roles: [AccessPolicy.RoleDefinition] = []
        for index in 0..<roleCount {
            let inherits = (0..<index).filter { _ in chance(25) }.map { AccessPolicy.Named("role\($0)") }
            roles.append(.init(name: .init("role\(index)"), inherits: inherits))
        }
        var rules: [AccessPolicy.Rule] = []
        for index in 0..<(2 + Int(random.next() % 7)) {
            var condition = AccessPolicy.Condition()
            if chance(45) {
                condition.relationship = [.self, .careTeam, .selfOrCareTeam][Int(random.next() % 3)]
            }
            if chance(25) { condition.labelsNoneOf = subset(labels, minimum: 1).map { .init($0) } }
            if chance(20) { condition.labelsAnyOf = subset(labels, minimum: 1).map { .init($0) } }
            for _ in 0..<(chance(40) ? 1 + Int(random.next() % 2) : 0) {
                let key = chance(60) ? "status" : "ward"
                let operand: AccessPolicy.AttributeComparison.Operand =
                    key == "ward" && chance(50)
                    ? .subjectAttribute("ward")
                    : .value(key == "status" ? statuses[Int(random.next() % UInt64(statuses.count))] : "w1")
                let side: AccessPolicy.AttributeComparison.Side = chance(12) ? .subject : .resource
                condition.attributes.append(
                    .init(side: side, key: side == .subject ? "ward" : key, operand: operand, negated: chance(30)))
            }
            if chance(8) {
                condition.timeOfDay =
                    chance(50) ? .init(fromMinute: 0, toMinute: 720) : .init(fromMinute: 720, toMinute: 1439)
            }
            let effect: AccessPolicy.Effect = chance(30) ? .deny : .allow
            let ruleRoles = subset((0..<roleCount).map { "role\($0)" }, minimum: 1)
            let actions = subset(["read", "update"], minimum: 1)
            let ruleFields = chance(40) ? subset(fields, minimum: 1) : nil
            rules.append(
                .init(
                    id: .init("rule-\(index)"), effect: effect, roles: ruleRoles.map { .init($0) },
                    actions: actions.map { .init($0) }, resourceTypes: ["doc"], fields: ruleFields?.map { .init($0) },
                    condition: condition))
        }
        return try CompiledPolicy(
            AccessPolicy(
                sensitivityLabels: labels.map { .init($0) },
                resourceTypes: [.init(name: "doc", fields: fields.map { .init($0) })], roles: roles, rules: rules))
    }

    /// The subjects a policy is checked for: every role alone, and all roles together, with random
    /// patient ids (sometimes empty or absent), attributes, and sometimes a care-team list of their own.
    package static func subjects(_ policy: CompiledPolicy, _ data: DataSet, seed: UInt64) -> [Subject] {
        var random = Random(seed: seed)
        var roleSets = policy.roles.map { [$0] }
        roleSets.append(policy.roles)
        return roleSets.enumerated().map { index, roles in
            let id = data.subjects[index % data.subjects.count]
            let patient: String? = ["p-1", "p-2", "", nil][Int(random.next() % 4)]
            let ward: String? = ["w1", "w2", "", nil][Int(random.next() % 4)]
            let ownList: Set<String>? = random.next() % 5 == 0 ? data.careTeams[id] : nil
            return Subject(
                id: id, roles: roles, patientID: patient, careTeamPatients: ownList,
                attributes: ward.map { ["ward": $0] } ?? [:])
        }
    }

    /// The engine's resource for a row (as `GuardedRecords` builds it from a stored row).
    package static func resource(_ row: Row) -> Resource {
        var attributes: [String: String] = [:]
        if let status = row.status { attributes["status"] = status }
        if let ward = row.ward { attributes["ward"] = ward }
        return Resource(
            type: "doc", id: row.id, patientID: row.patientID,
            labels: Set((row.labels ?? "").split(separator: " ").map(String.init)), attributes: attributes)
    }

    /// `INSERT` statements for the rows (100 per statement) and the care-team links.
    package static func insertStatements(
        _ data: DataSet, schema: RecordSchema, careTeams: CareTeamTable, dialect: SQLDialect
    ) -> [SQLStatement] {
        var statements: [SQLStatement] = []
        var start = 0
        while start < data.rows.count {
            var builder = SQLBuilder(dialect: dialect)
            builder.append(
                "INSERT INTO \(schema.table) (id, patient_id, \(fields.joined(separator: ", ")), status, ward, labels) VALUES "
            )
            for (offset, row) in data.rows[start..<min(start + 100, data.rows.count)].enumerated() {
                builder.append(offset == 0 ? "(" : ", (")
                let cells: [String?] =
                    [row.id, row.patientID] + fields.map { row.values[$0] } + [row.status, row.ward, row.labels]
                for (position, cell) in cells.enumerated() {
                    if position > 0 { builder.append(", ") }
                    builder.bind(cell.map { .text($0) } ?? .null)
                }
                builder.append(")")
            }
            statements.append(builder.statement)
            start += 100
        }
        for (subject, patients) in data.careTeams.sorted(by: { $0.key < $1.key }) {
            for patient in patients.sorted() {
                var builder = SQLBuilder(dialect: dialect)
                builder.append(
                    "INSERT INTO \(careTeams.table) (\(careTeams.subjectColumn), \(careTeams.patientColumn)) VALUES (")
                builder.bind(.text(subject))
                builder.append(", ")
                builder.bind(.text(patient))
                builder.append(")")
                statements.append(builder.statement)
            }
        }
        return statements
    }

    /// The query the differential runs: every row's id and, per field, whether it is visible, for the
    /// rows the plan allows.
    package static func query(_ plan: AccessPlan, translator: PlanTranslator) throws -> SQLStatement {
        var builder = SQLBuilder(dialect: translator.dialect)
        builder.append("SELECT \(translator.schema.table).id")
        for field in fields {
            builder.append(", CASE WHEN ")
            try translator.render(plan.visibility(of: field), plan, into: &builder)
            builder.append(" THEN 1 ELSE 0 END")
        }
        builder.append(" FROM \(translator.schema.table) WHERE ")
        try translator.render(plan.row, plan, into: &builder)
        return builder.statement
    }

    /// What the engine allows: row id → visible fields (sorted).
    package static func expected(
        _ policy: CompiledPolicy, _ subject: Subject, _ action: AccessAction, _ data: DataSet, clock: any PHIGuardClock
    ) -> [String: [String]] {
        let prepared = policy.prepare(subject)
        let directory = Directory(data.careTeams)
        var result: [String: [String]] = [:]
        for row in data.rows {
            let decision = policy.decide(prepared, action, resource(row), careTeams: directory, clock: clock)
            if decision.isAllowed { result[row.id] = decision.visibleFields.sorted() }
        }
        return result
    }

    /// What the SQL selected: row id → visible fields (sorted). Throws on a malformed result row.
    package static func actual(_ rows: [[SQLValue]]) throws -> [String: [String]] {
        var result: [String: [String]] = [:]
        for row in rows {
            guard row.count == fields.count + 1, case .text(let id) = row[0] else { throw DifferentialError.badRow }
            var visible: [String] = []
            for (index, field) in fields.enumerated() {
                guard case .integer(let flag) = row[index + 1] else { throw DifferentialError.badRow }
                if flag == 1 { visible.append(field) }
            }
            result[id] = visible
        }
        return result
    }

    /// Whether every text of the row's decision columns is printable ASCII.
    static func isPrintableASCII(_ row: Row) -> Bool {
        [row.status, row.ward, row.labels].allSatisfy { ($0 ?? "").utf8.allSatisfy { $0 >= 0x20 && $0 <= 0x7E } }
    }

    /// A differential run's failure.
    package enum DifferentialError: Error {
        case badRow
        case noValidPolicy
    }

    /// Runs the differential: `policies` random policies, each against one of `dataSets` data sets
    /// already loaded in `run`'s database (tables from ``schema(_:)``, care teams of data set `i` in
    /// `careTeams[i]`), every subject of
    /// ``subjects(_:_:seed:)`` and actions read and update. Returns (comparisons, mismatch descriptions).
    package static func run(
        policies: Int, dataSets: [DataSet], dialect: SQLDialect, careTeams: [CareTeamTable], seed: UInt64,
        clock: any PHIGuardClock, query run: (SQLStatement) async throws -> [[SQLValue]]
    ) async throws -> (comparisons: Int, rows: Int, stricter: Int, mismatches: [String]) {
        var stricter = 0
        var comparisons = 0
        var rowsCompared = 0
        var mismatches: [String] = []
        for number in 0..<policies {
            // Policies validation refuses (an allow an unconditional deny always covers) are redrawn.
            var attempt: UInt64 = 0
            var drawn: CompiledPolicy?
            while drawn == nil && attempt < 100 {
                drawn = try? policy(seed: (seed &+ UInt64(number)) &* 1_000 &+ attempt)
                attempt += 1
            }
            guard let policy = drawn else { throw DifferentialError.noValidPolicy }
            let dataIndex = number % dataSets.count
            let data = dataSets[dataIndex]
            let translator = PlanTranslator(
                schema: try schema(dataIndex), dialect: dialect, careTeams: careTeams[dataIndex])
            for subject in subjects(policy, data, seed: seed &+ UInt64(number) &* 31) {
                for action in [AccessAction.read, .update] {
                    let plan = policy.plan(subject, action, resourceType: "doc", now: clock.now)
                    let want = expected(policy, subject, action, data, clock: clock)
                    let got = try actual(try await run(try query(plan, translator: translator)))
                    comparisons += 1
                    rowsCompared += data.rows.count
                    // SQL may be stricter than decide only on rows holding non-ASCII text (see
                    // `AccessPlan`: byte equality versus Swift's canonical equivalence); never wider.
                    var differing: [Row] = []
                    for row in data.rows where want[row.id] != got[row.id] {
                        let wider =
                            got[row.id].map { fields in want[row.id].map { !Set(fields).isSubset(of: $0) } ?? true }
                            ?? false
                        if wider || isPrintableASCII(row) {
                            differing.append(row)
                        } else {
                            stricter += 1
                        }
                    }
                    if let row = differing.first {
                        mismatches.append(
                            "policy \(number) roles \(subject.roles) \(action.rawValue): \(differing.count) rows differ; "
                                + "e.g. \(row.id) patient \(row.patientID) status \(String(describing: row.status)) "
                                + "ward \(String(describing: row.ward)) labels \(String(describing: row.labels)): "
                                + "decide \(String(describing: want[row.id])), SQL \(String(describing: got[row.id])); "
                                + "subject \(subject); plan \(plan.row)")
                    }
                }
            }
        }
        return (comparisons, rowsCompared, stricter, mismatches)
    }
}
