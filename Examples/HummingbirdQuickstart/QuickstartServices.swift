import Foundation
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardAuthentication
import PHIGuardFieldEncryption
import PHIGuardPasswords
import PHIGuardRecords
import PHIGuardSQLite
import PHIGuardTOTP

/// Everything the quickstart serves from, on one new SQLite file: accounts, sessions, TOTP steps,
/// the durable audit log (WAL, synchronous=FULL: each chart read's event is committed before the
/// chart is decrypted), the charts and the break-glass grants. The keys are made fresh for each
/// run (a demo: a real app loads them with `PHIGuardKeys`' `KeyDirectory`), so the file is new too.
struct QuickstartServices: Sendable {
    static let policy = """
        version: 1
        resourceTypes:
          - name: chart
            fields: [name, allergies, medications]
        roles:
          - name: patient
          - name: physician
        rules:
          - id: patient-reads-own-chart
            effect: allow
            roles: [patient]
            actions: [read]
            resourceTypes: [chart]
            when: {relationship: self}
          - id: physician-writes-charts
            effect: allow
            roles: [physician]
            actions: [create, update]
            resourceTypes: [chart]
        breakGlass:
          roles: [physician]
          maxDuration: 1h
          grants:
            - actions: read
              resourceTypes: [chart]
        """
    /// The demo accounts: login name, roles, patient id.
    static let people: [(name: String, roles: [String], patient: String?)] = [
        ("alice", ["patient"], "p-alice"), ("bob", ["patient"], "p-bob"), ("carol", ["patient"], "p-carol"),
        ("drew", ["physician"], nil),
    ]
    static let password = "correct horse battery staple"

    let database: SQLiteDatabase
    let flow: LoginFlow
    let audit: AuditLog
    let schema: RecordSchema
    let store: SQLiteRecordStore
    let encryptor: FieldEncryptor
    let charts: GuardedRecords
    let emergency: EmergencyAccess
    /// Login name → the otpauth:// URI of its authenticator (printed at start: a demo).
    let authenticators: [(name: String, uri: String)]

    /// - Parameter idleRefreshInterval: `LoginConfiguration.idleRefreshInterval` (`nil`: the library's
    ///   default, 60 s; `.zero` writes every use to the session table, as before that setting existed).
    static func open(path: String, idleRefreshInterval: Duration? = nil) async throws -> QuickstartServices {
        guard !FileManager.default.fileExists(atPath: path) else { throw QuickstartError.databaseExists(path) }
        let database = try await SQLiteDatabase.open(path: path)
        let sealing = try RowSealingKey.generate()
        let encryptor = FieldEncryptor(keyring: try Keyring(active: try FieldKey.generate(id: "demo-1")))
        let accounts = try await SQLiteAccountDirectory.open(in: database, sealingKey: sealing, encryptor: encryptor)
        let audit = try await AuditLog(
            sink: try await SQLiteAuditSink.open(in: database), chainKey: try .generate(), signingKey: try .generate())
        let passwords = try PasswordHasher()
        let flow = try LoginFlow(
            accounts: accounts, sessions: try await SQLiteSessionStore.open(in: database), passwords: passwords,
            totp: try TOTPVerifier(replayStore: try await SQLiteTOTPReplayStore.open(in: database), lockout: nil),
            throttle: try await SQLiteLockoutStore.open(in: database, keyDigestSecret: try DigestSecret()),
            audit: audit, configuration: LoginConfiguration(idleRefreshInterval: idleRefreshInterval),
            sealingKey: sealing)
        let engine = AccessEngine(policy: try CompiledPolicy(yaml: policy))
        let schema = try RecordSchema(
            resourceType: "chart", table: "charts",
            fields: ["name", "allergies", "medications"].map { RecordField.encrypted($0) })
        let store = try await SQLiteRecordStore.open(in: database, schemas: [schema])
        let charts = try GuardedRecords(
            schema: schema, store: store, engine: engine, encryptor: encryptor, audit: audit)
        let emergency = EmergencyAccess(
            engine: engine, store: try await SQLiteBreakGlassStore.open(in: database), encryptor: encryptor,
            audit: audit, reviewerRoles: [])

        // Seed: the accounts (each with a TOTP authenticator), then drew writes the patients' charts.
        var authenticators: [(name: String, uri: String)] = []
        var drewSession: AuthenticatedSession?
        let hash = try await passwords.hash(password)
        for person in people {
            let totp = TOTP(secret: try TOTPSecret())
            guard
                let id = try await accounts.createAccount(
                    loginName: try LoginName(person.name), passwordHash: hash, totp: totp)
            else { throw QuickstartError.seedFailed }
            try await accounts.setRoles(person.roles, accountID: id)
            try await accounts.setPatientID(person.patient, accountID: id)
            authenticators.append(
                (
                    person.name,
                    try OTPAuthURI(totp: totp, issuer: "PHIGuard Quickstart", accountName: person.name).revealString()
                ))
            if person.name == "drew" {
                guard
                    case .awaitingSecondFactor(let pending) = try await flow.signIn(
                        loginName: "drew", password: password, clientAddress: "seed")
                else { throw QuickstartError.seedFailed }
                drewSession = try await flow.verifySecondFactor(
                    pending, .totp(try totp.code(at: Date())), clientAddress: "seed")
            }
        }
        guard let drew = drewSession else { throw QuickstartError.seedFailed }
        for person in people {
            guard let patient = person.patient else { continue }
            try await charts.create(
                "c-\(person.name)", patientID: patient,
                values: [
                    "name": "\(person.name.capitalized) Example", "allergies": "penicillin", "medications": "none",
                ],
                as: drew.principal)
        }
        try await flow.signOut(drew)
        return QuickstartServices(
            database: database, flow: flow, audit: audit, schema: schema, store: store, encryptor: encryptor,
            charts: charts, emergency: emergency, authenticators: authenticators)
    }

    func close() async {
        try? await audit.close()
        try? await database.close()
    }
}

enum QuickstartError: Error, CustomStringConvertible {
    case databaseExists(String)
    case seedFailed
    case usage(String)

    var description: String {
        switch self {
        case .databaseExists(let path): "\(path) exists; the quickstart makes a new database with new keys each run"
        case .seedFailed: "seeding the demo accounts failed"
        case .usage(let text): text
        }
    }
}
