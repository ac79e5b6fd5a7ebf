import ArgumentParser
import Foundation
@_spi(PolicyEvaluation) import PHIGuardAccess
import PHIGuardRecords

extension PolicyCommand {
    /// `phiguard policy plan`: what a list endpoint will run for a role.
    struct Plan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the access plan of a role for a resource type and action, and the SQL it compiles to.",
            discussion: """
                The subject is symbolic: its id, patient id and attributes appear as parameters named
                '$subject', '$subject.patientID' and '$subject.<key>'. The table is the type's name with
                '-' as '_', every policy field a column, resource attributes and labels the columns of the
                same name, care teams the table care_team(subject_id, patient_id). Time-of-day conditions
                are decided at --at (default now). Exit status: 0 plan shown, 1 the plan cannot be
                translated (the rule is named), 65 malformed policy or options, 66 unreadable policy.
                """)

        @Argument(help: "The policy file (YAML).") var file: String
        @Option(help: "A role (repeat for several).") var role: [String]
        @Option(help: "The action, e.g. read.") var action: String
        @Option(name: .customLong("type"), help: "The resource type.") var resourceType: String
        @Option(help: "sqlite or postgres.") var dialect: String = "postgres"
        @Option(help: "The moment time-of-day conditions are decided at (ISO 8601).") var at: String?
        @OptionGroup var output: OutputOptions

        struct Report: Encodable {
            var kind: String
            var rows: String
            var fields: [String: String]
            var sql: String
            var parameters: [String]
        }

        func run() async throws {
            let policy = try PolicyCommand.load(file, output: output)
            guard let dialect = SQLDialect(rawValue: dialect) else {
                try fail("--dialect must be sqlite or postgres", CLIExit.dataError)
            }
            var now = Date()
            if let at {
                guard let parsed = ISO8601DateFormatter().date(from: at) else {
                    try fail("--at must be ISO 8601", CLIExit.dataError)
                }
                now = parsed
            }
            guard policy.resourceTypes.contains(resourceType) else {
                try fail("unknown resource type '\(resourceType)'", CLIExit.dataError)
            }
            var subjectKeys: Set<String> = []
            var resourceKeys: Set<String> = []
            for rule in policy.source.rules {
                for comparison in rule.condition.attributes {
                    if comparison.side == .subject {
                        subjectKeys.insert(comparison.key)
                    } else {
                        resourceKeys.insert(comparison.key)
                    }
                    if case .subjectAttribute(let key) = comparison.operand { subjectKeys.insert(key) }
                }
            }
            let subject = Subject(
                id: "$subject", roles: role, patientID: "$subject.patientID",
                attributes: Dictionary(uniqueKeysWithValues: subjectKeys.map { ($0, "$subject.\($0)") }))
            let plan = policy.plan(subject, AccessAction(action), resourceType: resourceType, now: now)
            let column = { (name: String) in String(name.map { $0 == "-" ? "_" : $0 }) }
            let fields = policy.fields(of: resourceType)
            let schemaFields =
                fields.map { RecordField.encrypted($0) }
                + resourceKeys.subtracting(fields).sorted().filter { RecordSchema.isValidSQLName(column($0)) }
                .map { RecordField.resourceAttribute($0) } + (fields.contains("labels") ? [] : [RecordField.labels()])
            let sql: SQLStatement
            do {
                let schema = try RecordSchema(
                    resourceType: resourceType, table: column(resourceType), fields: schemaFields)
                let translator = PlanTranslator(
                    schema: schema, dialect: dialect, careTeams: try CareTeamTable(table: "care_team"))
                sql = try translator.whereClause(plan)
            } catch let error as PlanTranslationError {
                FileHandle.standardError.write(Data("\(error)\n".utf8))
                throw CLIExit.negative
            } catch {
                try fail("cannot build a schema for '\(resourceType)': \(error)", CLIExit.dataError)
            }
            let parameters = sql.parameters.map { value in
                switch value {
                case .text(let text): "'\(text)'"
                case .null: "NULL"
                case .bytes(let bytes): "<\(bytes.count) bytes>"
                case .integer(let number): String(number)
                }
            }
            var text = plan.description
            text += "\nSQL (\(dialect.rawValue)): WHERE \(sql.text)"
            for (index, parameter) in parameters.enumerated() {
                text += "\n  \(dialect == .sqlite ? "?\(index + 1)" : "$\(index + 1)") = \(parameter)"
            }
            output.emit(
                Report(
                    kind: plan.kind.rawValue, rows: plan.row.description,
                    fields: Dictionary(uniqueKeysWithValues: plan.fields.map { ($0.name, $0.visible.description) }),
                    sql: sql.text, parameters: parameters),
                text: text)
        }
    }
}
