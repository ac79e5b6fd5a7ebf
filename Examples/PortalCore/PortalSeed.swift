internal import Foundation
internal import PHIGuardAccess
internal import PHIGuardAudit
internal import PHIGuardAuthentication
internal import PHIGuardFieldEncryption
internal import PHIGuardPasswords
internal import PHIGuardRecords
internal import PHIGuardSQLite
internal import PHIGuardTOTP

/// The deterministic demo hospital `init` seeds: made-up patients (a fixed generator, so every run
/// makes the same people), staff in every role, patient accounts and care teams.
///
/// DEMO ONLY: every seeded account gets the one password typed at `init` and a TOTP authenticator
/// whose current code `PatientPortal totp-code` prints. Never seed real accounts like this.
public enum PortalSeed {
    /// The account attribute marking a seeded demo account (the only accounts `totp-code` serves).
    public static let demoAttribute = "demo"

    /// One seeded account.
    public struct DemoAccount: Sendable, Hashable {
        /// The login name.
        public let loginName: String
        /// The roles.
        public let roles: [String]
        /// The patient the account is (patients only).
        public let patientID: String?
        /// The patients on whose care team the account is.
        public let careTeam: [String]
    }

    /// The seeded accounts, one or more per role.
    public static let accounts: [DemoAccount] = [
        DemoAccount(loginName: "alice", roles: ["patient"], patientID: "p-1", careTeam: []),
        DemoAccount(loginName: "bob", roles: ["patient"], patientID: "p-2", careTeam: []),
        DemoAccount(loginName: "carol", roles: ["patient"], patientID: "p-3", careTeam: []),
        DemoAccount(loginName: "dr.grey", roles: ["physician"], patientID: nil, careTeam: team([1, 2], 4...40)),
        DemoAccount(loginName: "dr.shaw", roles: ["physician"], patientID: nil, careTeam: team([3], 41...80)),
        DemoAccount(loginName: "nurse.joy", roles: ["nurse"], patientID: nil, careTeam: team([1], 4...40)),
        DemoAccount(loginName: "nurse.kim", roles: ["charge-nurse"], patientID: nil, careTeam: team([3], 41...80)),
        DemoAccount(loginName: "desk.dan", roles: ["front-desk"], patientID: nil, careTeam: []),
        DemoAccount(loginName: "bill.bea", roles: ["billing-clerk"], patientID: nil, careTeam: []),
        DemoAccount(loginName: "audit.ada", roles: ["auditor"], patientID: nil, careTeam: []),
        DemoAccount(loginName: "admin.al", roles: ["admin"], patientID: nil, careTeam: []),
        DemoAccount(
            loginName: "dr.admin", roles: ["admin", "physician"], patientID: nil, careTeam: team([1], 4...10)),
    ]

    /// One seeded clinical note or message (written after the accounts: the author is an account id).
    public struct DemoNote: Sendable, Hashable {
        /// The record id (`note-…` or `msg-…`).
        public let id: String
        /// The patient.
        public let patientID: String
        /// The login name of the author or sender.
        public let author: String
        /// When it was written (ISO 8601).
        public let date: String
        /// The text.
        public let body: String
        /// The sensitivity label (notes only), if any.
        public let label: String?
    }

    /// The seeded notes of the three fixed patients: p-1 (on nurse.joy's care team) has a
    /// `psychotherapy` note, p-2 a `substance-use` one.
    public static let notes: [DemoNote] = [
        DemoNote(
            id: "note-p-1-1", patientID: "p-1", author: "dr.grey", date: "2026-01-10T09:15:00Z",
            body: "Asthma review: well controlled, continue salbutamol as needed.", label: nil),
        DemoNote(
            id: "note-p-1-2", patientID: "p-1", author: "dr.grey", date: "2026-02-03T14:00:00Z",
            body: "Psychotherapy session 4: discussed work stress; next session in two weeks.",
            label: "psychotherapy"),
        DemoNote(
            id: "note-p-1-3", patientID: "p-1", author: "nurse.joy", date: "2026-02-20T08:30:00Z",
            body: "Vitals taken, BP 118/76; inhaler technique checked.", label: nil),
        DemoNote(
            id: "note-p-2-1", patientID: "p-2", author: "dr.grey", date: "2026-01-22T11:00:00Z",
            body: "Diabetes follow-up: HbA1c 7.1%, metformin unchanged.", label: nil),
        DemoNote(
            id: "note-p-2-2", patientID: "p-2", author: "dr.grey", date: "2026-02-11T16:45:00Z",
            body: "Alcohol use disorder counselling, 42 CFR Part 2 programme, week 3.", label: "substance-use"),
        DemoNote(
            id: "note-p-3-1", patientID: "p-3", author: "dr.shaw", date: "2026-01-30T10:20:00Z",
            body: "Migraine diary reviewed; sumatriptan effective.", label: nil),
    ]

    /// The seeded portal messages of the three fixed patients.
    public static let messages: [DemoNote] = [
        DemoNote(
            id: "msg-p-1-1", patientID: "p-1", author: "alice", date: "2026-02-21T07:55:00Z",
            body: "Could I get a repeat prescription for my inhaler?", label: nil),
        DemoNote(
            id: "msg-p-1-2", patientID: "p-1", author: "dr.grey", date: "2026-02-21T12:10:00Z",
            body: "Done, it is at your pharmacy from tomorrow.", label: nil),
        DemoNote(
            id: "msg-p-2-1", patientID: "p-2", author: "bob", date: "2026-02-12T09:00:00Z",
            body: "Is my next counselling session still on Thursday?", label: nil),
        DemoNote(
            id: "msg-p-3-1", patientID: "p-3", author: "carol", date: "2026-02-01T18:30:00Z",
            body: "The new migraine tablets help, thank you.", label: nil),
    ]

    private static func team(_ first: [Int], _ range: ClosedRange<Int>) -> [String] {
        (first + Array(range)).map { "p-\($0)" }
    }

    /// One made-up patient.
    public struct Patient: Sendable, Hashable {
        /// `p-N`.
        public let id: String
        /// The patient-index fields.
        public let index: [String: String]
        /// The chart fields.
        public let chart: [String: String]
    }

    /// The first `count` patients of the generator (p-1 … p-3 are the fixed demo patients Alice
    /// Example, Bob Sample and Carol Placeholder).
    public static func patients(count: Int) -> [Patient] {
        var generator = SplitMix64(seed: 0x5048_4947_7561_7264)
        return (1...max(count, 3)).map { number in patient(number, &generator) }
    }

    private static let fixed: [(name: String, born: String, chart: [String: String])] = [
        (
            "Alice Example", "1984-03-07",
            [
                "contact": "12 Harbour Lane, Riverside", "insurance": "Riverside Mutual R-5521",
                "problems": "Asthma", "medications": "Salbutamol inhaler as needed",
                "allergies": "Penicillin", "vitals": "BP 118/76, HR 64", "labs": "HbA1c 5.2%",
                "immunizations": "Influenza 2025", "billing": "Balance 0.00",
            ]
        ),
        (
            "Bob Sample", "1971-11-23",
            [
                "contact": "4 Mill Road, Riverside", "insurance": "Riverside Mutual R-7310",
                "problems": "Type 2 diabetes", "medications": "Metformin 500 mg twice daily",
                "allergies": "None known", "vitals": "BP 131/84, HR 72", "labs": "HbA1c 7.1%",
                "immunizations": "Hepatitis B 2019", "billing": "Balance 45.00",
            ]
        ),
        (
            "Carol Placeholder", "1999-06-30",
            [
                "contact": "88 Station Street, Riverside", "insurance": "Self-pay",
                "problems": "Migraine", "medications": "Sumatriptan 50 mg as needed",
                "allergies": "Latex", "vitals": "BP 110/70, HR 60", "labs": "Ferritin 40 ng/mL",
                "immunizations": "HPV 2012", "billing": "Balance 120.00",
            ]
        ),
    ]

    private static let givenNames = [
        "Ada", "Ben", "Cleo", "Dev", "Edna", "Finn", "Gia", "Hugo", "Iris", "Jon", "Kira", "Leo", "Mina", "Nils",
        "Oona", "Pavel", "Quinn", "Rosa", "Sami", "Tess", "Umar", "Vera", "Wes", "Xena", "Yuri", "Zoe",
    ]
    private static let familyNames = [
        "Abbott", "Baxter", "Castillo", "Dahl", "Eze", "Fischer", "Gallo", "Haas", "Ibsen", "Jovanovic", "Kowalski",
        "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov", "Quist", "Rinaldi", "Sato", "Tran", "Ueda",
        "Varga", "Weiss", "Xu", "Yilmaz", "Zielinski",
    ]
    private static let streets = ["Harbour Lane", "Mill Road", "Station Street", "Elm Close", "Quay Walk", "Bell Row"]
    private static let insurers = ["Riverside Mutual", "Northgate Health", "Civic Care", "Self-pay"]
    private static let problems = [
        "Asthma", "Type 2 diabetes", "Hypertension", "Migraine", "Hypothyroidism", "Osteoarthritis",
        "Generalised anxiety disorder", "Chronic kidney disease stage 2", "Atrial fibrillation", "None recorded",
    ]
    private static let medications = [
        "Salbutamol inhaler as needed", "Metformin 500 mg twice daily", "Lisinopril 10 mg daily",
        "Levothyroxine 75 mcg daily", "Apixaban 5 mg twice daily", "Sertraline 50 mg daily", "None",
    ]
    private static let allergies = ["Penicillin", "Latex", "Peanuts", "Sulfonamides", "None known", "Shellfish"]
    private static let immunizations = ["Influenza 2025", "Hepatitis B 2019", "Tetanus 2021", "COVID-19 2024"]

    private static func patient(_ number: Int, _ generator: inout SplitMix64) -> Patient {
        func pick(_ list: [String]) -> String { list[Int(generator.next() % UInt64(list.count))] }
        let id = "p-\(number)"
        let name: String
        let born: String
        var chart: [String: String]
        if number <= fixed.count {
            (name, born, chart) = fixed[number - 1]
        } else {
            name = "\(pick(givenNames)) \(pick(familyNames))"
            let year = 1930 + Int(generator.next() % 90)
            let month = 1 + Int(generator.next() % 12)
            let day = 1 + Int(generator.next() % 28)
            born = String(format: "%04d-%02d-%02d", year, month, day)
            chart = [
                "contact": "\(1 + generator.next() % 150) \(pick(streets)), Riverside",
                "insurance": "\(pick(insurers)) R-\(1000 + generator.next() % 9000)",
                "problems": pick(problems), "medications": pick(medications), "allergies": pick(allergies),
                "vitals":
                    "BP \(100 + generator.next() % 50)/\(60 + generator.next() % 30), HR \(55 + generator.next() % 40)",
                "labs": "HbA1c \(30 + generator.next() % 50) mmol/mol",
                "immunizations": pick(immunizations), "billing": "Balance \(generator.next() % 500).00",
            ]
        }
        chart["demographics"] = "\(name), born \(born)"
        // 9xx area numbers are never issued: every SSN here is visibly made up.
        let ssn = String(format: "9%02d-%02d-%04d", number % 100, (number * 7) % 100, (number * 7919) % 10_000)
        let mrn = "MRN-\(String(format: "%07d", 1_000_000 + number * 37))"
        return Patient(id: id, index: ["name": name, "birth-date": born, "mrn": mrn, "ssn": ssn], chart: chart)
    }
}

/// A small deterministic generator (SplitMix64): the same seed makes the same hospital.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}

extension Portal {
    /// Seeds the demo hospital: `patientCount` patients (index entry and chart, every field sealed
    /// for its row), the ``PortalSeed/accounts`` with `password` and a TOTP authenticator each, and
    /// their care teams, then ``PortalSeed/notes`` and ``PortalSeed/messages``. `progress` is called
    /// with (done, total) after each patient.
    ///
    /// The records are written as an import (straight to the record store, sealed exactly as
    /// `GuardedRecords` seals them): there is no user on whose behalf to decide. The import is
    /// audited all the same, by actor `system` with action `seed`: one event per seeded account
    /// (its id, its roles in attribute `roles`) and one per table (its resource type, the number of
    /// records in attribute `records`), so the log accounts for every row that did not arrive
    /// through a guarded write.
    public func seed(
        password: String, patientCount: Int = 300, progress: @Sendable (Int, Int) -> Void = { _, _ in }
    ) async throws {
        let violations = PasswordPolicy().violations(of: password, usage: .withMultiFactor)
        guard violations.isEmpty else { throw AuthenticationError.passwordNotAccepted(violations) }
        let patients = PortalSeed.patients(count: patientCount)
        for (done, patient) in patients.enumerated() {
            try await insert(patient.id, patient.index, into: patientIndex.schema)
            try await insert(patient.id, patient.chart, into: charts.schema)
            progress(done + 1, patients.count)
        }
        var accountIDs: [String: String] = [:]
        for demo in PortalSeed.accounts {
            let enrollment = try TOTPEnrollment(issuer: "PHIGuard Portal", accountName: demo.loginName)
            guard
                let id = try await accounts.createAccount(
                    loginName: try LoginName(demo.loginName), passwordHash: try await passwords.hash(password),
                    totp: enrollment.totp)
            else { throw PortalError.alreadyInitialized }
            try await accounts.setRoles(demo.roles, accountID: id)
            try await accounts.setPatientID(demo.patientID, accountID: id)
            try await accounts.setAttributes([PortalSeed.demoAttribute: "yes"], accountID: id)
            for patientID in demo.careTeam { try await careTeams.add(memberID: id, patientID: patientID) }
            accountIDs[demo.loginName] = id
            try await auditSeed(
                resourceType: "user-account", resourceID: id, attributes: ["roles": demo.roles.joined(separator: "/")])
        }
        for schema in [patientIndex.schema, charts.schema] {
            try await auditSeed(resourceType: schema.resourceType, attributes: ["records": String(patients.count)])
        }
        for (seeded, schema, authorField) in [
            (PortalSeed.notes, notes.schema, "author"), (PortalSeed.messages, messages.schema, "sender"),
        ] {
            var written = 0
            for item in seeded where patients.contains(where: { $0.id == item.patientID }) {
                written += 1
                var values = [
                    authorField: accountIDs[item.author] ?? item.author, "date": item.date, "body": item.body,
                ]
                values["labels"] = item.label
                try await insert(item.id, values, into: schema, patientID: item.patientID)
            }
            try await auditSeed(resourceType: schema.resourceType, attributes: ["records": String(written)])
        }
    }

    /// The actor of the seed's audit events.
    static let seedActor = "system"

    /// Appends one `seed` event by ``seedActor`` (the access-decision kind, outcome `allow`: the
    /// import was the operator's decision, there was no request to decide).
    private func auditSeed(resourceType: String, resourceID: String? = nil, attributes: [String: String])
        async throws
    {
        try await audit.append(
            try AuditEvent(
                kind: .accessDecision, timestamp: AuditEvent.timestamp(for: engine.clock.now),
                actorID: Self.seedActor, actorRole: Self.seedActor, action: "seed", resourceType: resourceType,
                resourceID: resourceID, outcome: .allow, reason: "seed", attributes: attributes))
    }

    /// Inserts one record, every field sealed as `GuardedRecords` seals it (bound to table, record
    /// and field; blind index values where the schema has them; labels in clear). `patientID`
    /// defaults to `id` (the patient index and charts).
    private func insert(_ id: String, _ values: [String: String], into schema: RecordSchema, patientID: String? = nil)
        async throws
    {
        guard
            try await recordStore.insert(
                StoredRecord(id: id, patientID: patientID ?? id, columns: try sealedColumns(id, values, schema)),
                schema: schema)
        else { throw PortalError.alreadyInitialized }
    }

    /// The stored columns of record `id` of `schema` holding `values`: every field sealed as
    /// `GuardedRecords` seals it (bound to table, record and field; blind index values where the
    /// schema has them; clear fields as text). Fields not in `values` are left out.
    func sealedColumns(_ id: String, _ values: [String: String], _ schema: RecordSchema) throws
        -> [String: StoredValue]
    {
        var columns: [String: StoredValue] = [:]
        for field in schema.fields {
            guard let value = values[field.name] else { continue }
            guard field.storage == .encrypted else {
                columns[field.column] = .text(value)
                continue
            }
            let context = FieldContext(table: schema.table, recordID: id, field: field.name)
            columns[field.column] = .bytes(try encryptor.encrypt(value, context: context).bytes)
            if let index = field.blindIndex, let column = field.blindIndexColumn {
                columns[column] = .bytes(index.value(for: value).bytes)
            }
        }
        return columns
    }
}
