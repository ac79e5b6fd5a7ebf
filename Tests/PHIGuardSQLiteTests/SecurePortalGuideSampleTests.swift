// The code samples of "Secure your portal in an afternoon" (Documentation/SecurePortalGuide.md),
// compiled and run here end to end on a real SQLite file. Each block between "Guide sample NAME
// (begin)" and "(end)" is the guide's block marked `<!-- sample: NAME -->`, character for character:
// `scripts/check-guide-samples.py` (run by `make checks`) fails when the two differ.
import Foundation
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardAuthentication
import PHIGuardBackup
import PHIGuardFieldEncryption
import PHIGuardKeys
import PHIGuardPasswords
import PHIGuardRateLimit
import PHIGuardRecords
import PHIGuardSQLite
import PHIGuardTOTP
import Testing

// MARK: Guide sample keys (begin)

/// Every secret the portal needs, from one key directory (made once by `phiguard keys init`).
/// Each load checks the directory and the file (owner, mode, no symbolic link) and a refusal
/// names the file and the problem, never the key.
struct PortalSecrets {
    let fieldKeyring: Keyring
    let chainKey: AuditChainKey
    let signingKey: AuditSigningKey
    let digestSecret: DigestSecret
    let sealingKey: RowSealingKey

    init(keyDirectory path: String) throws(KeyError) {
        let keys = KeyDirectory(path: path)
        fieldKeyring = try keys.fieldKeyring()
        chainKey = try keys.auditChainKey()
        signingKey = try keys.auditSigningKey()
        digestSecret = try keys.digestSecret()
        sealingKey = try keys.rowSealingKey()
    }
}

// MARK: Guide sample keys (end)

// MARK: Guide sample stores (begin)

/// Everything the portal opens at start-up: one SQLite file whose one connection PHIGuard's stores
/// share, the audit log, the sign-in flow, the policy engine and the guarded charts.
struct Portal {
    let database: SQLiteDatabase
    let auditSink: SQLiteAuditSink
    let audit: AuditLog
    let accounts: SQLiteAccountDirectory
    let careTeams: SQLiteCareTeamStore
    let totpSteps: SQLiteTOTPReplayStore
    let flow: LoginFlow
    let engine: AccessEngine
    let charts: GuardedRecords
    let emergency: EmergencyAccess

    /// The chart table: PHI fields sealed per row and field; `billing` too.
    static func chartSchema() throws -> RecordSchema {
        try RecordSchema(
            resourceType: "chart", table: "charts",
            fields: [.encrypted("demographics"), .encrypted("medications"), .encrypted("labs"), .encrypted("billing")])
    }

    static func open(
        databasePath: String, policyPath: String, witnessPath: String, secrets: PortalSecrets,
        clock: any PHIGuardClock = SystemClock()
    ) async throws -> Portal {
        let policy = try CompiledPolicy(yaml: try String(contentsOfFile: policyPath, encoding: .utf8))
        let encryptor = FieldEncryptor(keyring: secrets.fieldKeyring)
        let database = try await SQLiteDatabase.open(path: databasePath)
        let auditSink = try await SQLiteAuditSink.open(in: database)
        // Each signed checkpoint also goes to an append-only witness file (put it on another volume):
        // a log cut back behind the witness's latest checkpoint then fails verification.
        let audit = try await AuditLog(
            sink: auditSink, chainKey: secrets.chainKey, signingKey: secrets.signingKey,
            checkpointExporter: try FileCheckpointWitness(path: witnessPath).exporter(), clock: clock)
        let accounts = try await SQLiteAccountDirectory.open(
            in: database, sealingKey: secrets.sealingKey, encryptor: encryptor)
        let careTeams = try await SQLiteCareTeamStore.open(in: database, sealingKey: secrets.sealingKey)
        let totpSteps = try await SQLiteTOTPReplayStore.open(in: database)  // a code is accepted once
        let flow = try LoginFlow(
            accounts: accounts, sessions: try await SQLiteSessionStore.open(in: database),
            passwords: try PasswordHasher(),
            totp: try TOTPVerifier(replayStore: totpSteps, lockout: nil),  // the flow counts code failures
            throttle: try await SQLiteLockoutStore.open(
                in: database, keyDigestSecret: secrets.digestSecret, clock: clock),
            rateLimiter: RateLimiter(
                store: try await SQLiteRateLimitStore.open(
                    in: database, keyDigestSecret: secrets.digestSecret, clock: clock)),
            audit: audit, clock: clock, sealingKey: secrets.sealingKey, careTeams: careTeams)
        let engine = AccessEngine(policy: policy, clock: clock)
        let chartStore = try await SQLiteRecordStore.open(in: database, schemas: [try chartSchema()])
        let charts = try GuardedRecords(
            schema: try chartSchema(), store: chartStore, engine: engine, encryptor: encryptor, audit: audit)
        let emergency = EmergencyAccess(
            engine: engine, store: try await SQLiteBreakGlassStore.open(in: database), encryptor: encryptor,
            audit: audit, reviewerRoles: ["auditor"])
        return Portal(
            database: database, auditSink: auditSink, audit: audit, accounts: accounts, careTeams: careTeams,
            totpSteps: totpSteps, flow: flow, engine: engine, charts: charts, emergency: emergency)
    }

    /// Writes the audit queue and a final checkpoint, then closes the file.
    func close() async throws {
        try await audit.close()
        try await database.close()
    }
}

// MARK: Guide sample stores (end)

// MARK: Guide sample accounts (begin)

/// A patient registers (the registration session reads nothing), enrolling TOTP on the way: show
/// `enrollment.uri` as a QR code, then pass the first code the app shows. Returns the account id, or
/// nil when the name (or a look-alike of it) is taken: answer both cases the same way.
func registerPatient(
    portal: Portal, loginName: String, password: String, enrollment: TOTPEnrollment, firstCode: String,
    clientAddress: String
) async throws -> String? {
    let registration = try await portal.flow.beginRegistration()  // its cookie reaches no PHI
    return try await portal.flow.completeRegistration(
        registration, loginName: loginName, password: password, clientAddress: clientAddress,
        authenticator: enrollment.totp, confirmationCode: firstCode)
}

/// After identity proofing (your front desk's job), link the account to its patient record.
func linkPatient(portal: Portal, accountID: String, patientID: String) async throws {
    try await portal.accounts.setRoles(["patient"], accountID: accountID)
    try await portal.accounts.setPatientID(patientID, accountID: accountID)
    try await portal.flow.accountPrivilegesChanged(accountID: accountID)  // ends the account's sessions
}

/// An admin adds a staff member whose TOTP enrolment was confirmed with its first code.
func addStaffMember(
    portal: Portal, loginName: String, password: String, roles: [String], enrollment: TOTPEnrollment,
    careTeamOf patients: [String] = []
) async throws -> String? {
    let name = try LoginName(loginName)
    try name.checkRegistrable()  // refuses mixed scripts and invisible characters
    guard let confirmedStep = enrollment.lastAcceptedStep else { return nil }  // not confirmed yet
    let hash = try await PasswordHasher().hash(password)
    guard
        let accountID = try await portal.accounts.createAccount(
            loginName: name, passwordHash: hash, totp: enrollment.totp)
    else { return nil }
    _ = try await portal.totpSteps.advance(accountID: accountID, to: confirmedStep)  // that code is spent
    try await portal.accounts.setRoles(roles, accountID: accountID)
    for patient in patients { try await portal.careTeams.add(memberID: accountID, patientID: patient) }
    return accountID
}

// MARK: Guide sample accounts (end)

// MARK: Guide sample sign-in (begin)

/// POST /login: the password. Returns the cookie to set (a session waiting for the code).
func postLogin(portal: Portal, cookie: String?, loginName: String, password: String, clientAddress: String)
    async throws -> String
{
    let previous = try await portal.flow.resume(cookie)  // a new sign-in replaces it (no fixation)
    switch try await portal.flow.signIn(
        loginName: loginName, password: password, clientAddress: clientAddress, replacing: previous)
    {
    case .awaitingSecondFactor(let pending): return pending.token.cookieValue
    case .authenticated(let session): return session.token.cookieValue
    }
}

/// POST /login/code: the TOTP code, only from a session waiting for one. Returns the new cookie.
func postLoginCode(portal: Portal, cookie: String?, code: String, clientAddress: String) async throws -> String? {
    guard case .awaitingSecondFactor(let pending) = try await portal.flow.resume(cookie) else { return nil }
    return try await portal.flow.verifySecondFactor(pending, .totp(code), clientAddress: clientAddress)
        .token.cookieValue
}

/// POST /logout: the session is deleted in the store; the cookie is dead everywhere.
func postLogout(portal: Portal, cookie: String?) async throws {
    try await portal.flow.end(try await portal.flow.resume(cookie))
}

// MARK: Guide sample sign-in (end)

// MARK: Guide sample records (begin)

/// What a handler answers when the request has no fully signed-in user.
enum PortalResponse: Error { case signInRequired, notFound }

/// The one way from a cookie to a principal: a live, fully signed-in, unexpired session.
func principal(portal: Portal, cookie: String?) async throws -> AuthenticatedPrincipal {
    guard let principal = try await portal.flow.resume(cookie).principal else { throw PortalResponse.signInRequired }
    return principal
}

/// GET /charts/{id}: decide, audit (committed first), decrypt only the fields the policy allows.
func getChart(portal: Portal, cookie: String?, chartID: String) async throws -> [String: String] {
    let user = try await principal(portal: portal, cookie: cookie)
    do {
        return try await portal.charts.read(chartID, as: user).values
    } catch RecordError.notFoundOrDenied {
        throw PortalResponse.notFound  // "not yours" and "no such chart" get one answer
    }
}

/// PATCH /charts/{id}: every changed field must be writable by this user, or nothing is written.
func patchChart(portal: Portal, cookie: String?, chartID: String, changes: [String: String]) async throws {
    let user = try await principal(portal: portal, cookie: cookie)
    try await portal.charts.update(chartID, changes: changes, as: user)
}

/// GET /charts: only the charts this user may read, a page at a time (the policy runs as SQL).
func listCharts(portal: Portal, cookie: String?) async throws -> [String] {
    let user = try await principal(portal: portal, cookie: cookie)
    var page = try await portal.charts.list(as: user, limit: 50)
    var ids = page.records.map(\.id)
    while let next = page.nextCursor {
        page = try await portal.charts.list(as: user, limit: 50, after: next)
        ids += page.records.map(\.id)
    }
    return ids
}

// MARK: Guide sample records (end)

// MARK: Guide sample break-glass (begin)

/// POST /charts/{id}/break-glass: a nurse off the care team, in an emergency. The grant is bound to
/// this session and patient, stored, audited, and lands in the auditor's review queue.
func emergencyRead(portal: Portal, cookie: String?, chartID: String, patientID: String, justification: String)
    async throws -> [String: String]
{
    let user = try await principal(portal: portal, cookie: cookie)
    var grant = try await portal.emergency.activeGrant(for: user, patientID: patientID)
    if grant == nil {
        grant = try await portal.emergency.invoke(
            user, scope: BreakGlassScope(patient: patientID),
            reason: BreakGlassReason(category: .emergencyTreatment, justification: justification),
            duration: .seconds(3600))
    }
    return try await portal.charts.read(chartID, as: user, breakGlass: grant).values
}

/// The auditor's queue: every grant with each record read under it; each reviewed once.
func reviewEmergencies(portal: Portal, cookie: String?) async throws -> Int {
    let auditor = try await principal(portal: portal, cookie: cookie)
    let queue = try await portal.emergency.reviewQueue(auditRecords: portal.auditSink)
    for item in queue {
        try await portal.emergency.review(item.grant.id, outcome: "justified", as: auditor)
    }
    return queue.count
}

// MARK: Guide sample break-glass (end)

// MARK: Guide sample audit (begin)

/// Verifies the whole chain, its stored checkpoints and the witness's (what `phiguard audit verify
/// --witness` does): an edited, deleted, reordered or cut-off record is reported.
func verifyAudit(portal: Portal, secrets: PortalSecrets, witnessPath: String) async throws -> Bool {
    let verifier = AuditVerifier(chainKey: secrets.chainKey, checkpointKey: secrets.signingKey.publicKey)
    let witnessed = try await FileCheckpointWitness.reader(path: witnessPath).checkpoints()
    let report = try await verifier.verify(
        portal.auditSink, checkpoints: try await portal.auditSink.checkpoints() + witnessed)
    if !report.isIntact { print("audit log broken at \(report.breakCount) places: \(report.breaks)") }
    return report.isIntact
}

// MARK: Guide sample audit (end)

// MARK: Guide sample backup (begin)

/// Nightly: an encrypted online snapshot of the database, then proof that it decrypts and that its
/// audit chain and every chart envelope verify. The backup key is the key directory's `backup.key`
/// (a copy kept with the restorers, or a `phiguard backup keygen` file, loads with `BackupKey.load(path:)`).
func nightlyBackup(databasePath: String, backupPath: String, keyDirectory: String, secrets: PortalSecrets)
    async throws -> Bool
{
    let key = try KeyDirectory(path: keyDirectory).backupKey()
    try await DatabaseBackup.createSQLite(database: databasePath, key: key, to: backupPath)
    let options = BackupVerificationOptions(
        keyring: secrets.fieldKeyring,
        auditVerifier: AuditVerifier(chainKey: secrets.chainKey, checkpointKey: secrets.signingKey.publicKey),
        contextRules: EnvelopeContextRule.rules(for: try Portal.chartSchema()))
    let report = try await DatabaseBackup.verify(backup: backupPath, key: key, options: options)
    return report.envelopes.failureCount == 0
}

// MARK: Guide sample backup (end)

/// The guide's policy file (Documentation/SecurePortalGuide.md, "The policy file"): the checker
/// compares this text with the guide's `yaml` block marked `sample: policy`.
let securePortalGuidePolicy = """
    # MARK: Guide sample policy (begin)
    version: 1
    timeZone: UTC
    resourceTypes:
      - name: chart
        fields: [demographics, medications, labs, billing]
        actions: [read, create, update]
    roles:
      - name: patient
      - name: physician
      - name: nurse
      - name: auditor
    rules:
      - id: patient-reads-own-chart
        effect: allow
        roles: patient
        actions: read
        resourceTypes: chart
        fields: [demographics, medications, labs]
        when: {relationship: self}
      - id: physician-treats-care-team
        effect: allow
        roles: physician
        actions: [read, create, update]
        resourceTypes: chart
        fields: [demographics, medications, labs]
        when: {relationship: careTeam}
    breakGlass:
      roles: [nurse]
      maxDuration: 4h
      grants:
        - actions: read
          resourceTypes: [chart]
    # MARK: Guide sample policy (end)
    """

@Suite("Secure your portal in an afternoon: the guide's samples")
struct SecurePortalGuideSampleTests {
    static let address = "198.51.100.7"

    /// A confirmed TOTP enrolment at the clock's time (as the user's app would confirm it).
    static func confirmedEnrollment(_ account: String, clock: ManualClock) throws -> TOTPEnrollment {
        var enrollment = try TOTPEnrollment(issuer: "Example Clinic", accountName: account)
        let now = clock.wallClockSeconds()
        #expect(try enrollment.confirm(try enrollment.totp.code(unixSeconds: now), unixSeconds: now))
        return enrollment
    }

    /// Password, then code, through the guide's handlers.
    static func signIn(_ portal: Portal, _ name: String, _ password: String, _ totp: TOTP, clock: ManualClock)
        async throws -> String
    {
        let pending = try await postLogin(
            portal: portal, cookie: nil, loginName: name, password: password, clientAddress: address)
        let code = try totp.code(unixSeconds: clock.wallClockSeconds())
        return try #require(
            try await postLoginCode(portal: portal, cookie: pending, code: code, clientAddress: address))
    }

    @Test("keys, stores, accounts, sign-in, records, list, break-glass, audit and backup run on one SQLite file")
    func guideRunsEndToEnd() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("guide-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try KeyDirectory.create(at: folder + "/keys")
        try securePortalGuidePolicy.write(toFile: folder + "/policy.yaml", atomically: true, encoding: .utf8)
        let databasePath = folder + "/portal.sqlite"
        let clock = ManualClock()

        let secrets = try PortalSecrets(keyDirectory: folder + "/keys")
        let witnessPath = folder + "/audit.witness"
        let portal = try await Portal.open(
            databasePath: databasePath, policyPath: folder + "/policy.yaml", witnessPath: witnessPath,
            secrets: secrets, clock: clock)

        // Accounts: a patient registers and is linked; staff are added by an admin.
        let password = "correct horse battery staple"
        let patientTOTP = try Self.confirmedEnrollment("ada", clock: clock)
        let patientID = try #require(
            try await registerPatient(
                portal: portal, loginName: "ada", password: password, enrollment: patientTOTP,
                firstCode: try patientTOTP.totp.code(unixSeconds: clock.wallClockSeconds()),
                clientAddress: Self.address))
        #expect(
            try await registerPatient(
                portal: portal, loginName: "ADA", password: password, enrollment: patientTOTP,
                firstCode: try patientTOTP.totp.code(unixSeconds: clock.wallClockSeconds()),
                clientAddress: Self.address) == nil)  // the same name in another spelling is taken
        try await linkPatient(portal: portal, accountID: patientID, patientID: "p-1")
        var staffTOTP: [String: TOTPEnrollment] = [:]
        for (name, role, team) in [
            ("dr.grey", "physician", ["p-1", "p-2"]), ("nurse.joy", "nurse", []),
            ("auditor.ann", "auditor", []),
        ] {
            let enrollment = try Self.confirmedEnrollment(name, clock: clock)
            staffTOTP[name] = enrollment
            #expect(
                try await addStaffMember(
                    portal: portal, loginName: name, password: password, roles: [role], enrollment: enrollment,
                    careTeamOf: team) != nil)
        }
        await #expect(throws: LoginNameError.self) {  // Latin and Cyrillic е mixed: a look-alike of dr.grey
            try await addStaffMember(
                portal: portal, loginName: "dr.gr\u{0435}y", password: password, roles: ["physician"],
                enrollment: try Self.confirmedEnrollment("x", clock: clock))
        }
        clock.advance(by: .seconds(30))  // the registration's code was used: the next step's code signs in

        // Sign-in, records, list.
        let doctor = try await Self.signIn(
            portal, "dr.grey", password, try #require(staffTOTP["dr.grey"]).totp, clock: clock)
        for (chart, patient) in [("c-1", "p-1"), ("c-2", "p-2")] {
            try await portal.charts.create(
                chart, patientID: patient,
                values: ["demographics": "name of \(patient)", "medications": "none", "labs": "pending"],
                as: try await principal(portal: portal, cookie: doctor))
        }
        try await patchChart(portal: portal, cookie: doctor, chartID: "c-1", changes: ["labs": "HbA1c 6.1%"])
        await #expect(throws: RecordError.self) {
            try await patchChart(portal: portal, cookie: doctor, chartID: "c-1", changes: ["billing": "paid"])
        }
        let patient = try await Self.signIn(portal, "ada", password, patientTOTP.totp, clock: clock)
        #expect(
            try await getChart(portal: portal, cookie: patient, chartID: "c-1")
                == ["demographics": "name of p-1", "medications": "none", "labs": "HbA1c 6.1%"])
        await #expect(throws: PortalResponse.notFound) {
            try await getChart(portal: portal, cookie: patient, chartID: "c-2")
        }
        #expect(try await listCharts(portal: portal, cookie: patient) == ["c-1"])
        #expect(try await listCharts(portal: portal, cookie: doctor) == ["c-1", "c-2"])
        try await postLogout(portal: portal, cookie: patient)
        await #expect(throws: PortalResponse.signInRequired) {
            try await getChart(portal: portal, cookie: patient, chartID: "c-1")
        }

        // Break-glass: refused without a grant, allowed with one, then reviewed.
        let nurse = try await Self.signIn(
            portal, "nurse.joy", password, try #require(staffTOTP["nurse.joy"]).totp, clock: clock)
        await #expect(throws: PortalResponse.notFound) {
            try await getChart(portal: portal, cookie: nurse, chartID: "c-2")
        }
        for _ in 0..<2 {
            let values = try await emergencyRead(
                portal: portal, cookie: nurse, chartID: "c-2", patientID: "p-2",
                justification: "unresponsive on arrival")
            #expect(values["demographics"] == "name of p-2")
        }
        let auditor = try await Self.signIn(
            portal, "auditor.ann", password, try #require(staffTOTP["auditor.ann"]).totp, clock: clock)
        #expect(try await reviewEmergencies(portal: portal, cookie: auditor) == 1)  // invoked once, reused
        #expect(try await reviewEmergencies(portal: portal, cookie: auditor) == 0)

        // Audit and backup.
        try await portal.audit.flush()
        #expect(try await verifyAudit(portal: portal, secrets: secrets, witnessPath: witnessPath))
        #expect(
            try await nightlyBackup(
                databasePath: databasePath, backupPath: folder + "/nightly.phgbak",
                keyDirectory: folder + "/keys", secrets: secrets))
        try await portal.close()  // writes a final checkpoint, to the log and to the witness

        // After a restart the log continues the chain, and the witness holds the final checkpoint.
        let reopened = try await Portal.open(
            databasePath: databasePath, policyPath: folder + "/policy.yaml", witnessPath: witnessPath,
            secrets: secrets, clock: clock)
        #expect(try await FileCheckpointWitness.reader(path: witnessPath).checkpoints().isEmpty == false)
        #expect(try await verifyAudit(portal: reopened, secrets: secrets, witnessPath: witnessPath))
        try await reopened.close()
    }
}
