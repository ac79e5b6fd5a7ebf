// The code sample of the article "Reading and writing PHI" (Sources/PHIGuardRecords/PHIGuardRecords.docc/
// ReadingAndWritingPHI.md), compiled and run here: keep the two in step.
import Foundation
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardAuthentication
import PHIGuardFieldEncryption
import PHIGuardPasswords
import PHIGuardRecords
import PHIGuardTOTP
import Synchronization
import Testing

// MARK: Article sample (begin)

/// What the portal answers when there is no signed-in user.
enum PortalError: Error { case signInRequired }

/// Declared once at start-up: the chart's storage, the policy's resource type, the guarded path.
func makeCharts(
    policyYAML: String, store: any RecordStore, encryptor: FieldEncryptor, audit: AuditLog
) throws -> (engine: AccessEngine, charts: GuardedRecords) {
    let engine = AccessEngine(policy: try CompiledPolicy(yaml: policyYAML))
    let schema = try RecordSchema(
        resourceType: "chart", table: "charts", recordIDColumn: "id", patientIDColumn: "patient_id",
        fields: [.encrypted("demographics"), .encrypted("medications"), .encrypted("labs")])
    let charts = try GuardedRecords(schema: schema, store: store, engine: engine, encryptor: encryptor, audit: audit)
    return (engine, charts)
}

/// GET /charts/{id}: session → decision → audit (committed) → decrypt only the allowed fields.
func chartResponse(cookie: String?, chartID: String, flow: LoginFlow, charts: GuardedRecords) async throws
    -> [String: String]
{
    guard let principal = try await flow.resume(cookie).principal else { throw PortalError.signInRequired }
    do {
        let chart = try await charts.read(chartID, as: principal)
        return chart.values  // hidden fields are absent
    } catch RecordError.notFoundOrDenied {
        return [:]  // one answer for "no such chart" and "not yours": answer 404 either way
    }
}

/// POST /charts/{id}/break-glass, then the read under the grant.
func emergencyRead(
    chartID: String, patientID: String, justification: String, principal: AuthenticatedPrincipal,
    emergency: EmergencyAccess, charts: GuardedRecords
) async throws -> [String: String] {
    var grant = try await emergency.activeGrant(for: principal, patientID: patientID)
    if grant == nil {
        grant = try await emergency.invoke(
            principal, scope: BreakGlassScope(patient: patientID),
            reason: BreakGlassReason(category: .emergencyTreatment, justification: justification),
            duration: .seconds(3600))
    }
    return try await charts.read(chartID, as: principal, breakGlass: grant).values
}

/// The privacy officer's queue: each grant with every record read under it.
func reviewBreakGlass(emergency: EmergencyAccess, auditStorage: some AuditRecordSource, officer: AuthenticatedPrincipal)
    async throws
{
    for item in try await emergency.reviewQueue(auditRecords: auditStorage) {
        print(item.grant.reason.category.rawValue, item.uses.map { $0.event.resourceID ?? "-" })
        try await emergency.review(item.grant.id, outcome: "justified", as: officer)
    }
}

// MARK: Article sample (end)

/// Accounts in memory, as an app's table would hold them.
private final class Accounts: AccountDirectory {
    let accounts = Mutex<[String: (loginName: LoginName, account: Account)]>([:])
    func account(loginName: LoginName) async -> Account? {
        accounts.withLock { $0.values.first { $0.loginName == loginName }?.account }
    }
    func account(id accountID: String) async -> Account? { accounts.withLock { $0[accountID]?.account } }
    func createAccount(loginName: LoginName, passwordHash: String, totp: TOTP?) async -> String? { nil }
    func setPasswordHash(_ passwordHash: String, accountID: String) async {}
}

@Suite("The article's sample")
struct DocSampleTests {
    static let policy = """
        version: 1
        resourceTypes:
          - name: chart
            fields: [demographics, medications, labs]
        roles:
          - name: patient
        rules:
          - id: patient-reads-own-chart
            effect: allow
            roles: patient
            actions: read
            resourceTypes: chart
            fields: [demographics, medications]
            when: {relationship: self}
        """

    @Test("sign-in, session, decision, audit, decrypt: the sample runs")
    func sampleRuns() async throws {
        let encryptor = FieldEncryptor(keyring: try Keyring(active: try FieldKey.generate(id: "k1")))
        let sink = InMemoryAuditSink()
        let log = try await AuditLog(sink: sink, chainKey: try .generate(), signingKey: try .generate())
        let store = InMemoryRecordStore()
        let (_, charts) = try makeCharts(policyYAML: Self.policy, store: store, encryptor: encryptor, audit: log)
        var columns: [String: StoredValue] = [:]
        for field in ["demographics", "medications", "labs"] {
            let context = FieldContext(table: "charts", recordID: "c-1", field: field)
            columns[field] = .bytes(try encryptor.encrypt("\(field) of p-1", context: context).bytes)
        }
        _ = try await store.insert(StoredRecord(id: "c-1", patientID: "p-1", columns: columns), schema: charts.schema)

        let hasher = try PasswordHasher(
            configuration: .init(parameters: try Argon2Parameters(memoryKiB: 4_096, iterations: 1, parallelism: 1)))
        let accounts = Accounts()
        let account = Account(
            id: "u-1", passwordHash: try await hasher.hash("a long enough passphrase"), totp: nil, roles: ["patient"],
            patientID: "p-1")
        let name = try LoginName("ada")
        accounts.accounts.withLock { $0["u-1"] = (name, account) }
        let flow = try LoginFlow(
            accounts: accounts, sessions: InMemorySessionStore(), passwords: hasher,
            totp: try TOTPVerifier(replayStore: InMemoryTOTPReplayStore()), audit: log,
            configuration: LoginConfiguration(requireSecondFactor: false))
        guard
            case .authenticated(let session) = try await flow.signIn(
                loginName: "ada", password: "a long enough passphrase", clientAddress: "192.0.2.1")
        else { throw PortalError.signInRequired }

        let values = try await chartResponse(
            cookie: session.token.cookieValue, chartID: "c-1", flow: flow, charts: charts)
        #expect(values == ["demographics": "demographics of p-1", "medications": "medications of p-1"])
        #expect(
            try await chartResponse(cookie: session.token.cookieValue, chartID: "c-9", flow: flow, charts: charts)
                == [:])
        await #expect(throws: PortalError.self) {
            try await chartResponse(cookie: nil, chartID: "c-1", flow: flow, charts: charts)
        }
    }

    @Test("the break-the-glass sample runs: invoke once, reuse, read, review")
    func breakGlassSampleRuns() async throws {
        let world = try await BreakGlassWorld()
        let nurse = try await world.signIn("nurse")
        let auditor = try await world.signIn("auditor")
        for _ in 0..<2 {
            let values = try await emergencyRead(
                chartID: "c-1", patientID: "p-1", justification: "unresponsive on arrival", principal: nurse.principal,
                emergency: world.emergency, charts: world.records)
            #expect(values["vitals"] == "value of vitals" && values["billing"] == nil)
        }
        let grants = try await world.harness.grants.grants(issuedSince: .distantPast, includeReviewed: true, limit: 10)
        #expect(grants.count == 1)  // invoked once, found the second time
        try await reviewBreakGlass(
            emergency: world.emergency, auditStorage: world.harness.sink, officer: auditor.principal)
        #expect(try await world.emergency.reviewQueue(auditRecords: world.harness.sink).isEmpty)
    }
}
