internal import PHIGuardFieldEncryption
internal import PHIGuardRecords

/// The portal's two record types, each a `RecordSchema` in the SQLite file (every field encrypted,
/// bound to its table, row and field).
///
/// - `patient-index` (table `portal_patients`): name, birth-date, MRN, SSN. Name, birth-date and MRN
///   have blind indexes, deliberately short (collisions are checked against the decrypted value) so
///   a stolen index column is a weak guess at best; the SSN has none, so it cannot be searched.
/// - `chart` (table `portal_charts`): the ten fields the policy declares.
/// - `clinical-note` (table `portal_notes`): author, date, body, diagnosis codes (encrypted) and the
///   note's sensitivity labels (clear text, never returned: what `labelsAnyOf` rules decide on).
/// - `message` (table `portal_messages`): sender, date, body (encrypted).
struct PortalSchemas {
    /// The care-team table `GuardedRecords.list` translates `careTeam` conditions to (the rows of
    /// `SQLiteCareTeamStore`; principals carry their own care-team list, so it is a fallback).
    static func careTeamTable() throws -> CareTeamTable {
        try CareTeamTable(table: "phiguard_care_teams", subjectColumn: "member_id")
    }

    /// The patient-index fields, in display order.
    static let indexFields = ["name", "birth-date", "mrn", "ssn"]
    /// The chart fields the policy declares, in display order.
    static let chartFields = [
        "demographics", "contact", "insurance", "problems", "medications", "allergies", "vitals", "labs",
        "immunizations", "billing",
    ]

    let patientIndex: RecordSchema
    let chart: RecordSchema
    let note: RecordSchema
    let message: RecordSchema

    init(indexKey: FieldKey) throws {
        let table = "portal_patients"
        func index(_ field: String, bits: Int, _ normalization: BlindIndexNormalization) throws -> BlindIndex {
            try BlindIndex(
                name: "patient-\(field)", table: table, field: field, bits: bits, normalization: normalization,
                rootKey: indexKey)
        }
        patientIndex = try RecordSchema(
            resourceType: "patient-index", table: table, recordIDColumn: "id", patientIDColumn: "patient_id",
            fields: [
                .encrypted("name", blindIndex: try index("name", bits: 16, .caseFolded)),
                .encrypted("birth-date", column: "birth_date", blindIndex: try index("birth-date", bits: 12, .exact)),
                .encrypted("mrn", blindIndex: try index("mrn", bits: 20, .caseFolded)),
                .encrypted("ssn"),
            ])
        chart = try RecordSchema(
            resourceType: "chart", table: "portal_charts", recordIDColumn: "id", patientIDColumn: "patient_id",
            fields: Self.chartFields.map { RecordField.encrypted($0) })
        note = try RecordSchema(
            resourceType: "clinical-note", table: "portal_notes", recordIDColumn: "id", patientIDColumn: "patient_id",
            fields: ["author", "date", "body", "diagnosis-codes"].map { RecordField.encrypted($0) } + [.labels()])
        message = try RecordSchema(
            resourceType: "message", table: "portal_messages", recordIDColumn: "id", patientIDColumn: "patient_id",
            fields: ["sender", "date", "body"].map { RecordField.encrypted($0) })
    }
}
