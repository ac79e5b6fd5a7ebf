import Foundation
import Logging
import PHIGuardAccess
import PHIGuardAttackSuite
import PHIGuardAudit
import PHIGuardAuthentication
import PHIGuardErrors
import PHIGuardFieldEncryption
import PHIGuardPasswords
import PHIGuardRateLimit
import PHIGuardRecords
import PHIGuardSQLite
import PHIGuardTOTP
import PHIGuardTestSupport
import Synchronization

/// Real mistakes the vulnerable variant of the reference portal can reintroduce, one per flag.
enum Flaw: String, CaseIterable, Sendable {
    /// Serves a chart to any session state (registration, recovery, second factor pending): the
    /// OpenEMR CVE-2018-15152 bypass.
    case anySessionState
    /// Links a new account to the patient id the sign-up request names.
    case trustClientPatientID
    /// Reads charts with a policy decision but without writing the audit event.
    case skipAudit
    /// Stores the chart's `contact` field in clear (the schema forgot to mark it encrypted).
    case fieldInClear
    /// Answers 403 for an existing record the user may not see, 404 for a missing one.
    case distinctMissingVsForbidden
    /// Shows the error's own description to the client instead of the mapped public problem.
    case leakErrors
    /// Verifies the audit log against the checkpoints stored beside it only, not the witness copy.
    case noWitness
    /// Pastes the search term into the SQL text instead of binding it.
    case sqlInSearch
    /// Lists a patient's charts with its own SQL, pasting the filter field names and values, the sort
    /// key and the limit into the text.
    case sqlInListParameters
}

/// A small portal built only from PHIGuard's pieces (LoginFlow over the SQLite stores and
/// `SQLiteAccountDirectory`, `GuardedRecords` over `SQLiteRecordStore`, `EmergencyAccess`, `AuditLog`
/// into `SQLiteAuditSink` with a checkpoint witness), on one SQLite file, as the attack suite's target.
final class ReferencePortal: AttackTarget {
    static let password = "Fixture-pass-Alpha-9271-quartz"
    static let chartFields = [
        "demographics", "contact", "insurance", "problems", "medications", "allergies", "vitals", "labs",
        "immunizations", "billing",
    ]

    let capabilities: Set<AttackCapability> = [
        .registration, .passwordRecovery, .recordUpdate, .recordDelete, .passwordChange, .breakGlass,
        .clockControl, .throttleReset, .auditVerification, .storage, .search, .listParameters,
    ]
    let fixture: AttackFixture
    let flaws: Set<Flaw>
    let clock = ManualClock(Date(timeIntervalSince1970: 1_800_000_000))
    let database: SQLiteDatabase
    let accounts: SQLiteAccountDirectory
    let flow: LoginFlow
    let engine: AccessEngine
    let encryptor: FieldEncryptor
    let schema: RecordSchema
    let recordStore: SQLiteRecordStore
    let charts: GuardedRecords
    let emergency: EmergencyAccess
    let audit: AuditLog
    let auditSink: SQLiteAuditSink
    let chainKey: AuditChainKey
    let witness: FileCheckpointWitness
    /// Logs only critical lines: the suite provokes thousands of refusals on purpose.
    static let quiet: Logger = {
        var logger = Logger(label: "reference-portal")
        logger.logLevel = .critical
        return logger
    }()
    let reporter = ErrorReporter(logger: quiet)
    let attackStorage: SQLiteAttackStorage
    /// Each seeded account's authenticator, by login name.
    let authenticators: [String: TOTP]
    /// The recovery link last "e-mailed" to each login name.
    let recoveryLinks = Mutex<[String: String]>([:])

    var storage: (any AttackStorage)? { attackStorage }

    init(directory: URL, flaws: Set<Flaw> = []) async throws {
        self.flaws = flaws
        let path = directory.appendingPathComponent("portal.sqlite").path
        database = try await SQLiteDatabase.open(path: path)
        encryptor = FieldEncryptor(keyring: try Keyring(active: try FieldKey.generate(id: "k1")))
        let sealingKey = try RowSealingKey.generate()
        let digest = try DigestSecret()
        accounts = try await SQLiteAccountDirectory.open(in: database, sealingKey: sealingKey, encryptor: encryptor)
        let careTeams = try await SQLiteCareTeamStore.open(in: database, sealingKey: sealingKey)
        chainKey = try AuditChainKey.generate()
        auditSink = try await SQLiteAuditSink.open(in: database)
        witness = try FileCheckpointWitness(path: directory.appendingPathComponent("audit.witness").path)
        audit = try await AuditLog(
            sink: auditSink, chainKey: chainKey, signingKey: try AuditSigningKey.generate(),
            checkpointExporter: witness.exporter(), clock: clock, logger: Self.quiet)
        let hasher = try PasswordHasher(
            configuration: .init(parameters: try Argon2Parameters(memoryKiB: 16_384, iterations: 1, parallelism: 1)))
        flow = try LoginFlow(
            accounts: accounts, sessions: try await SQLiteSessionStore.open(in: database), passwords: hasher,
            totp: try TOTPVerifier(replayStore: try await SQLiteTOTPReplayStore.open(in: database), lockout: nil),
            throttle: try await SQLiteLockoutStore.open(in: database, keyDigestSecret: digest, clock: clock),
            rateLimiter: RateLimiter(
                store: try await SQLiteRateLimitStore.open(in: database, keyDigestSecret: digest, clock: clock)),
            audit: audit, clock: clock,
            // Second factor optional: patients may sign up without one; every seeded account has one.
            configuration: LoginConfiguration(requireSecondFactor: false), logger: Self.quiet, sealingKey: sealingKey,
            careTeams: careTeams)
        let yaml = try String(
            contentsOf: Fixture.repositoryRoot.appendingPathComponent("Examples/Policies/hospital.yaml"),
            encoding: .utf8)
        engine = AccessEngine(policy: try CompiledPolicy(yaml: yaml), clock: clock)
        schema = try RecordSchema(
            resourceType: "chart", table: "charts",
            fields: Self.chartFields.map {
                flaws.contains(.fieldInClear) && $0 == "contact" ? RecordField.plain($0) : RecordField.encrypted($0)
            })
        recordStore = try await SQLiteRecordStore.open(in: database, schemas: [schema])
        charts = try GuardedRecords(
            schema: schema, store: recordStore, engine: engine, encryptor: encryptor, audit: audit)
        emergency = EmergencyAccess(
            engine: engine, store: try await SQLiteBreakGlassStore.open(in: database), encryptor: encryptor,
            audit: audit, reviewerRoles: ["auditor"])
        attackStorage = try await SQLiteAttackStorage.open(
            path: path,
            layout: .phiguard(records: [
                "chart": AttackRecordTable(
                    table: "charts", idColumn: schema.recordIDColumn,
                    encryptedColumns: schema.fields.filter { $0.storage == .encrypted }.map(\.column))
            ]))

        // The seeded hospital.
        let seeded: [(name: String, roles: [String], patient: String?, teams: [String])] = [
            ("alice.quarrington@example.org", ["patient"], "p-1", []),
            ("dr.okafor@example.org", ["physician"], nil, ["p-1"]),
            ("nurse.lindqvist@example.org", ["nurse"], nil, []),
            ("admin.moreau@example.org", ["admin", "physician"], nil, ["p-1"]),
            ("victim.brute@example.org", ["patient"], "p-3", []),
            ("oracle.one@example.org", ["patient"], "p-4", []),
            ("oracle.two@example.org", ["patient"], "p-5", []),
        ]
        var authenticators: [String: TOTP] = [:]
        for account in seeded {
            let totp = TOTP(secret: try TOTPSecret())
            guard
                let id = try await accounts.createAccount(
                    loginName: try LoginName(account.name), passwordHash: try await hasher.hash(Self.password),
                    totp: totp)
            else { throw AttackTargetError.unsupported("seeding \(account.name)") }
            try await accounts.setRoles(account.roles, accountID: id)
            try await accounts.setPatientID(account.patient, accountID: id)
            for patient in account.teams { try await careTeams.add(memberID: id, patientID: patient) }
            authenticators[account.name] = totp
        }
        self.authenticators = authenticators

        func account(_ index: Int) -> AttackAccount {
            AttackAccount(loginName: seeded[index].name, password: Self.password, hasSecondFactor: true)
        }
        fixture = AttackFixture(
            patient: account(0), ownRecord: AttackRecord(type: "chart", id: "chart-1", patientID: "p-1"),
            otherRecord: AttackRecord(type: "chart", id: "chart-2", patientID: "p-2"), clinicalField: "medications",
            clinician: account(1), emergencyUser: account(2), adminClinician: account(3), bruteForceVictim: account(4),
            oracleAccounts: [account(5), account(6)],
            plaintextSecrets: [
                "Quarrington", "078-05-1120", "Brackenbury", "219-09-9999", "penicillin anaphylaxis", Self.password,
            ],
            // A third patient's chart: the IDOR scenario tries the extra records too.
            otherRecords: [AttackRecord(type: "chart", id: "chart-3", patientID: "p-3")])
        try await seedChart("chart-1", patient: "p-1", person: "Alice Quarrington", ssn: "078-05-1120")
        try await seedChart("chart-2", patient: "p-2", person: "Bartholomew Brackenbury", ssn: "219-09-9999")
        try await seedChart("chart-3", patient: "p-3", person: "Cressida Vantongeren", ssn: "219-09-9998")
    }

    /// A chart whose every field is sealed to (charts, id, field), or stored as text when the flaw says so.
    private func seedChart(_ id: String, patient: String, person: String, ssn: String) async throws {
        var columns: [String: StoredValue] = [:]
        for field in schema.fields {
            let value =
                switch field.name {
                case "demographics": "\(person), SSN \(ssn)"
                case "contact": "\(person), 12 Elm Row, 555-0142"
                case "allergies": "penicillin anaphylaxis"
                default: "\(field.name) of \(patient)"
                }
            columns[field.column] =
                field.storage == .plain
                ? .text(value)
                : .bytes(
                    try encryptor.encrypt(
                        value, context: FieldContext(table: schema.table, recordID: id, field: field.name)
                    )
                    .bytes)
        }
        _ = try await recordStore.insert(StoredRecord(id: id, patientID: patient, columns: columns), schema: schema)
    }

    func close() async throws {
        try await audit.close()
        try await attackStorage.close()
        try await database.close()
    }

    // MARK: Answers as a client sees them

    private func refusal(_ error: any Error) -> AttackRefusal {
        if flaws.contains(.leakErrors) { return AttackRefusal(status: 500, message: "Error: \(error)") }
        let shown = reporter.report(error)
        return AttackRefusal(
            status: shown.status, message: "\(shown.problem.title): \(shown.problem.detail)",
            reference: shown.correlationID.description)
    }

    private func signInRefusal(_ error: any Error) -> SignInOutcome {
        let shown = reporter.reportAuthenticationFailure(error)
        return .refused(
            AttackRefusal(
                status: shown.status, message: "\(shown.problem.title): \(shown.problem.detail)",
                reference: shown.correlationID.description))
    }

    private func signedIn(_ session: AttackSession) async throws(AuthenticationError) -> AuthenticatedSession? {
        if case .authenticated(let authenticated) = try await flow.resume(session.token) { authenticated } else { nil }
    }

    // MARK: AttackTarget

    func signIn(loginName: String, password: String, clientAddress: String, presenting presented: AttackSession?)
        async throws -> SignInOutcome
    {
        do {
            let previous = try await flow.resume(presented?.token)
            switch try await flow.signIn(
                loginName: loginName, password: password, clientAddress: clientAddress, replacing: previous)
            {
            case .authenticated(let session): return .authenticated(AttackSession(token: session.token.cookieValue))
            case .awaitingSecondFactor(let pending):
                return .secondFactorRequired(AttackSession(token: pending.token.cookieValue))
            }
        } catch {
            return signInRefusal(error)
        }
    }

    func sendSecondFactorCode(_ code: String, session: AttackSession, clientAddress: String) async throws
        -> SignInOutcome
    {
        do {
            guard case .awaitingSecondFactor(let pending) = try await flow.resume(session.token) else {
                return signInRefusal(AuthenticationError.sessionEnded)
            }
            let session = try await flow.verifySecondFactor(pending, .totp(code), clientAddress: clientAddress)
            return .authenticated(AttackSession(token: session.token.cookieValue))
        } catch {
            return signInRefusal(error)
        }
    }

    /// The next step's code: the manual clock moves 30 s first, so every sign-in gets a fresh code.
    func currentSecondFactorCode(for account: AttackAccount) async throws -> String {
        guard let totp = authenticators[account.loginName] else {
            throw AttackTargetError.unsupported("no authenticator for \(account.loginName)")
        }
        clock.advance(by: .seconds(30))
        return try totp.code(at: clock.now)
    }

    func perform(_ operation: RecordOperation, as session: AttackSession) async throws -> AttackResponse {
        do {
            let resumed = try await flow.resume(session.token)
            guard case .authenticated(let authenticated) = resumed else {
                if flaws.contains(.anySessionState), resumed.state != nil { return try await unguarded(operation) }
                return .refused(refusal(AuthenticationError.sessionEnded))
            }
            let principal = authenticated.principal
            switch operation {
            case .read(_, let id):
                if flaws.contains(.skipAudit) { return try await unaudited(id, as: principal) }
                let grant = try await activeGrant(recordID: id, principal)
                do {
                    return .allowed(values: try await charts.read(id, as: principal, breakGlass: grant).values)
                } catch .notFoundOrDenied where flaws.contains(.distinctMissingVsForbidden) {
                    let exists = AuditIdentifier.isValid(id) ? try await recordStore.fetch(id, schema: schema) : nil
                    return .refused(
                        exists == nil
                            ? refusal(RecordError.notFoundOrDenied)
                            : AttackRefusal(status: 403, message: "Forbidden: you may not open this chart"))
                }
            case .update(_, let id, let changes):
                try await charts.update(id, changes: changes, as: principal)
                return .allowed(values: [:])
            case .delete(_, let id):
                try await charts.delete(id, as: principal)
                return .allowed(values: [:])
            case .list:
                return .refused(refusal(RecordError.listingUnsupported))
            }
        } catch {
            return .refused(refusal(error))
        }
    }

    private func activeGrant(recordID: String, _ principal: AuthenticatedPrincipal) async throws -> EmergencyGrant? {
        guard AuditIdentifier.isValid(recordID), let stored = try await recordStore.fetch(recordID, schema: schema)
        else { return nil }
        return try await emergency.activeGrant(for: principal, patientID: stored.patientID)
    }

    /// The flaw `anySessionState`: the chart handler trusts "has a session" (CVE-2018-15152).
    private func unguarded(_ operation: RecordOperation) async throws -> AttackResponse {
        switch operation {
        case .read(_, let id):
            guard let stored = try await recordStore.fetch(id, schema: schema) else {
                return .refused(refusal(RecordError.notFoundOrDenied))
            }
            return .allowed(values: try decrypt(stored, fields: Self.chartFields))
        case .update(_, let id, let changes):
            guard let stored = try await recordStore.fetch(id, schema: schema) else {
                return .refused(refusal(RecordError.notFoundOrDenied))
            }
            var columns: [String: StoredValue] = [:]
            for (field, value) in changes {
                columns[field] = .bytes(
                    try encryptor.encrypt(value, context: FieldContext(table: "charts", recordID: id, field: field))
                        .bytes)
            }
            _ = try await recordStore.update(id, patientID: stored.patientID, columns: columns, schema: schema)
            return .allowed(values: [:])
        case .delete(_, let id):
            guard let stored = try await recordStore.fetch(id, schema: schema) else {
                return .refused(refusal(RecordError.notFoundOrDenied))
            }
            _ = try await recordStore.delete(id, patientID: stored.patientID, schema: schema)
            return .allowed(values: [:])
        case .list: return .refused(refusal(RecordError.listingUnsupported))
        }
    }

    /// The flaw `skipAudit`: decides, then decrypts the visible fields, and never writes the event.
    private func unaudited(_ id: String, as principal: AuthenticatedPrincipal) async throws -> AttackResponse {
        guard AuditIdentifier.isValid(id), let stored = try await recordStore.fetch(id, schema: schema) else {
            return .refused(refusal(RecordError.notFoundOrDenied))
        }
        let decision = engine.decide(principal, .read, Resource(type: "chart", id: id, patientID: stored.patientID))
        guard decision.isAllowed else { return .refused(refusal(RecordError.notFoundOrDenied)) }
        return .allowed(values: try decrypt(stored, fields: Self.chartFields.filter(decision.isFieldVisible)))
    }

    private func decrypt(_ stored: StoredRecord, fields: [String]) throws -> [String: String] {
        var values: [String: String] = [:]
        for field in fields {
            switch stored.columns[field] {
            case .bytes(let envelope):
                values[field] = try encryptor.decryptString(
                    try FieldEnvelope(bytes: envelope),
                    context: FieldContext(table: "charts", recordID: stored.id, field: field))
            case .text(let text): values[field] = text
            default: continue
            }
        }
        return values
    }

    /// Searches charts by id: an exact lookup through `GuardedRecords.read` (the id is a bound value).
    func search(type: String, term: String, as session: AttackSession) async throws -> AttackResponse {
        do {
            guard let authenticated = try await signedIn(session) else {
                return .refused(refusal(AuthenticationError.sessionEnded))
            }
            if flaws.contains(.sqlInSearch) {
                let column = schema.recordIDColumn
                let rows = try await attackStorage.execute(
                    "SELECT \(column) AS id FROM charts WHERE \(column) = '\(term)'", [])
                var values: [String: String] = [:]
                for case .text(let id)? in rows.map({ $0["id"] }) { values[id] = "" }
                return .allowed(values: values)
            }
            // Nothing found is the same answer as a missing id.
            let found = try await chartIfVisible(term, as: authenticated.principal)
            return .allowed(values: found == nil ? [:] : [term: ""])
        } catch {
            return .refused(refusal(error))
        }
    }

    /// The largest page `GuardedRecords.list` returns.
    var maximumListPageSize: Int? { GuardedRecords.maximumPageSize }

    /// Lists charts through `GuardedRecords.list`, from the parameters as a web front end receives
    /// them: `sort` (`id`, `patient` or a field name, `-` for descending), `filter.patient`,
    /// `filter.<field>`, `limit` and `cursor`; anything else is an invalid request. Field names go to
    /// the library, which refuses unknown, encrypted and unreadable ones (audited).
    func list(type: String, parameters: [String: String], as session: AttackSession) async throws -> AttackResponse {
        do {
            guard let authenticated = try await signedIn(session) else {
                return .refused(refusal(AuthenticationError.sessionEnded))
            }
            let principal = authenticated.principal
            if flaws.contains(.sqlInListParameters), let patient = principal.subject.patientID {
                return try await pastedList(patient: patient, parameters)
            }
            var filters: [RecordFilter] = []
            var order = RecordOrder.recordID
            var limit = 50
            var cursor: String?
            for (key, value) in parameters {
                switch key {
                case "sort":
                    let descending = value.hasPrefix("-")
                    let name = descending ? String(value.dropFirst()) : value
                    let key: RecordOrder.Key =
                        switch name {
                        case "id": .recordID
                        case "patient": .patientID
                        default: .field(name)
                        }
                    order = RecordOrder(key, descending: descending)
                case "limit":
                    guard let number = Int(value) else { throw ListParameterError() }
                    limit = number
                case "cursor": cursor = value
                case "filter.patient": filters.append(.patient(value))
                case let key where key.hasPrefix("filter."):
                    filters.append(.equals(field: String(key.dropFirst("filter.".count)), value: value))
                default: throw ListParameterError()
                }
            }
            let page = try await charts.list(
                as: principal, where: filters, orderBy: order, limit: limit, after: cursor)
            var values: [String: String] = [:]
            for record in page.records { values[record.id] = "" }
            if let next = page.nextCursor { values[AttackResponse.nextCursorKey] = next }
            return .allowed(values: values)
        } catch {
            return .refused(refusal(error))
        }
    }

    /// The flaw `sqlInListParameters`: the patient's own charts by hand-built SQL, with the filter
    /// names and values, the sort key and the limit pasted into the text.
    private func pastedList(patient: String, _ parameters: [String: String]) async throws -> AttackResponse {
        var sql = "SELECT \(schema.recordIDColumn) AS id FROM charts WHERE \(schema.patientIDColumn) = ?"
        for (key, value) in parameters.sorted(by: { $0.key < $1.key }) where key.hasPrefix("filter.") {
            sql += " AND \(key.dropFirst("filter.".count)) = '\(value)'"
        }
        sql += " ORDER BY \(parameters["sort"] ?? schema.recordIDColumn) LIMIT \(parameters["limit"] ?? "50")"
        let rows = try await attackStorage.execute(sql, [.text(patient)])
        var values: [String: String] = [:]
        for case .text(let id)? in rows.map({ $0["id"] }) { values[id] = "" }
        return .allowed(values: values)
    }

    /// The chart's values, or `nil` when it is missing or refused. (A typed-throws helper: Swift 6.3.1
    /// crashes on `catch .notFoundOrDenied` in an untyped-throws async function.)
    private func chartIfVisible(_ id: String, as principal: AuthenticatedPrincipal) async throws(RecordError)
        -> [String: String]?
    {
        do {
            return try await charts.read(id, as: principal).values
        } catch {
            if case .notFoundOrDenied = error { return nil }
            throw error
        }
    }

    func signOut(_ session: AttackSession) async throws {
        try await flow.end(try await flow.resume(session.token))
    }

    func beginRegistration(clientAddress: String) async throws -> AttackSession {
        AttackSession(token: try await flow.beginRegistration().token.cookieValue)
    }

    func completeRegistration(
        _ session: AttackSession, loginName: String, password: String, claimedPatientID: String?, clientAddress: String
    ) async throws -> AttackResponse {
        do {
            guard case .registering(let registration) = try await flow.resume(session.token) else {
                return .refused(refusal(AuthenticationError.sessionEnded))
            }
            if let id = try await flow.completeRegistration(
                registration, loginName: loginName, password: password, clientAddress: clientAddress)
            {
                try await accounts.setRoles(["patient"], accountID: id)
                // The correct portal links a patient only after staff verified who they are.
                if flaws.contains(.trustClientPatientID), let claimedPatientID {
                    try await accounts.setPatientID(claimedPatientID, accountID: id)
                }
            }
            // The same answer whether or not the name was free.
            return .allowed(values: [:])
        } catch {
            return .refused(refusal(error))
        }
    }

    func requestPasswordRecovery(loginName: String, clientAddress: String) async throws -> AttackResponse {
        do {
            if let delivery = try await flow.requestPasswordRecovery(loginName: loginName, clientAddress: clientAddress)
            {
                recoveryLinks.withLock { $0[loginName] = delivery.token.cookieValue }
            }
            return .allowed(values: [:])  // "if the account exists, a link is on its way"
        } catch {
            return .refused(refusal(error))
        }
    }

    func openRecoveryLink(for account: AttackAccount) async throws -> AttackSession? {
        recoveryLinks.withLock { $0[account.loginName] }.map(AttackSession.init(token:))
    }

    func changePassword(_ session: AttackSession, current: String, new: String) async throws -> SignInOutcome {
        do {
            guard let authenticated = try await signedIn(session) else {
                return signInRefusal(AuthenticationError.sessionEnded)
            }
            let rotated = try await flow.changePassword(
                authenticated, currentPassword: current, newPassword: new, clientAddress: "198.51.100.250")
            return .authenticated(AttackSession(token: rotated.token.cookieValue))
        } catch {
            return signInRefusal(error)
        }
    }

    func breakGlass(patientID: String, reason: String, justification: String, as session: AttackSession)
        async throws -> AttackResponse
    {
        do {
            guard let authenticated = try await signedIn(session) else {
                return .refused(refusal(AuthenticationError.sessionEnded))
            }
            _ = try await emergency.invoke(
                authenticated.principal, scope: BreakGlassScope(patient: patientID),
                reason: BreakGlassReason(category: .emergencyTreatment, justification: justification))
            return .allowed(values: [:])
        } catch {
            return .refused(refusal(error))
        }
    }

    func advanceClock(by duration: Duration) async throws { clock.advance(by: duration) }

    func resetThrottling() async throws {
        for table in ["phiguard_lockout_accounts", "phiguard_lockout_addresses", "phiguard_rate_limits"] {
            _ = try await attackStorage.execute("DELETE FROM \(table)", [])
        }
    }

    func verifyAuditLog() async throws -> Bool {
        try await audit.flush()
        let stored = try await auditSink.checkpoints()
        let checkpoints = flaws.contains(.noWitness) ? stored : stored + (try await witness.checkpoints())
        return try await AuditVerifier(chainKey: chainKey, checkpointKey: audit.checkpointPublicKey)
            .verify(auditSink, checkpoints: checkpoints).isIntact
    }
}

/// A list parameter the reference portal does not accept (an unknown name, a limit that is not a number).
struct ListParameterError: Error, PublicErrorMappable {
    var errorMapping: MappedError {
        MappedError(.invalidRequest, internalCode: "reference.list_parameter", logMessage: "list parameter refused")
    }
}
