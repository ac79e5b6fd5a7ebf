import Foundation
import Hummingbird
import HummingbirdTesting
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardAuthentication
import PHIGuardFieldEncryption
import PHIGuardHummingbird
import PHIGuardPasswords
import PHIGuardRecords
import PHIGuardSQLite
import PHIGuardTOTP

/// Everything on one real SQLite file: accounts, sessions, TOTP steps, the audit log, charts and
/// break-glass grants; a patient (`alice`, chart `c-alice`), another patient (`bob`, chart `c-bob`)
/// and a physician (`drew`), each with a password and a TOTP authenticator.
final class WebHarness: Sendable {
    static let password = "correct horse battery staple"
    static let policy = """
        version: 1
        resourceTypes:
          - name: chart
            fields: [name, allergies, notes]
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

    let path: String
    let clock: ManualClock
    let database: SQLiteDatabase
    let accounts: SQLiteAccountDirectory
    let audit: AuditLog
    let flow: LoginFlow
    let records: GuardedRecords
    let emergency: EmergencyAccess
    /// Login name → TOTP of the account.
    let authenticators: [String: TOTP]

    private init(
        path: String, clock: ManualClock, database: SQLiteDatabase, accounts: SQLiteAccountDirectory, audit: AuditLog,
        flow: LoginFlow,
        records: GuardedRecords, emergency: EmergencyAccess, authenticators: [String: TOTP]
    ) {
        self.path = path
        self.clock = clock
        self.database = database
        self.accounts = accounts
        self.audit = audit
        self.flow = flow
        self.records = records
        self.emergency = emergency
        self.authenticators = authenticators
    }

    static func make(rateLimits: LoginFlow.RateLimits = LoginFlow.RateLimits()) async throws -> WebHarness {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("web-\(UUID()).sqlite").path
        let clock = ManualClock(Date(timeIntervalSince1970: 1_800_000_000))
        let database = try await SQLiteDatabase.open(path: path)
        let sealing = try RowSealingKey.generate()
        let encryptor = FieldEncryptor(keyring: try Keyring(active: try FieldKey.generate(id: "k1")))
        let accounts = try await SQLiteAccountDirectory.open(in: database, sealingKey: sealing, encryptor: encryptor)
        let sessions = try await SQLiteSessionStore.open(in: database)
        let steps = try await SQLiteTOTPReplayStore.open(in: database)
        let sink = try await SQLiteAuditSink.open(in: database)
        let audit = try await AuditLog(
            sink: sink, chainKey: try .generate(), signingKey: try .generate(), clock: clock)
        let hasher = try PasswordHasher(
            configuration: .init(parameters: try Argon2Parameters(memoryKiB: 4_096, iterations: 1, parallelism: 1)))
        let flow = try LoginFlow(
            accounts: accounts, sessions: sessions, passwords: hasher,
            totp: try TOTPVerifier(replayStore: steps, lockout: nil), rateLimits: rateLimits, audit: audit,
            clock: clock, sealingKey: sealing)
        let engine = AccessEngine(policy: try CompiledPolicy(yaml: policy), clock: clock)
        let schema = try RecordSchema(
            resourceType: "chart", table: "charts",
            fields: ["name", "allergies", "notes"].map { RecordField.encrypted($0) })
        let store = try await SQLiteRecordStore.open(in: database, schemas: [schema])
        let records = try GuardedRecords(
            schema: schema, store: store, engine: engine, encryptor: encryptor, audit: audit)
        let emergency = EmergencyAccess(
            engine: engine, store: try await SQLiteBreakGlassStore.open(in: database), encryptor: encryptor,
            audit: audit, reviewerRoles: [])
        var authenticators: [String: TOTP] = [:]
        for (name, roles, patient) in [
            ("alice", ["patient"], "p-alice"), ("bob", ["patient"], "p-bob"), ("drew", ["physician"], nil),
        ] {
            let totp = TOTP(secret: try TOTPSecret())
            guard
                let id = try await accounts.createAccount(
                    loginName: try LoginName(name), passwordHash: try await hasher.hash(password), totp: totp)
            else { throw HarnessError.setup }
            try await accounts.setRoles(roles, accountID: id)
            try await accounts.setPatientID(patient, accountID: id)
            authenticators[name] = totp
        }
        let harness = WebHarness(
            path: path, clock: clock, database: database, accounts: accounts, audit: audit, flow: flow,
            records: records,
            emergency: emergency, authenticators: authenticators)
        // Drew (signed in through the flow) writes the two charts.
        let drew = try await harness.signInDirectly("drew")
        for patient in ["alice", "bob"] {
            try await records.create(
                "c-\(patient)", patientID: "p-\(patient)",
                values: ["name": "\(patient.capitalized) Example", "allergies": "penicillin", "notes": "none"],
                as: drew.principal)
        }
        return harness
    }

    /// A complete sign-in through the flow (no HTTP), then the clock moves past the code's step.
    func signInDirectly(_ name: String) async throws -> AuthenticatedSession {
        guard
            case .awaitingSecondFactor(let pending) = try await flow.signIn(
                loginName: name, password: Self.password, clientAddress: "192.0.2.1")
        else { throw HarnessError.setup }
        let session = try await flow.verifySecondFactor(pending, .totp(try code(name)), clientAddress: "192.0.2.1")
        clock.advance(by: .seconds(30))
        return session
    }

    /// The current TOTP code of `name`.
    func code(_ name: String) throws -> String {
        guard let totp = authenticators[name] else { throw HarnessError.setup }
        return try totp.code(at: clock.now)
    }

    func close() async {
        try? await audit.close()
        try? await accounts.close()
        try? await database.close()
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }
}

enum HarnessError: Error { case setup, noCookie }
