import CoreMetrics
import Foundation
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardAuthentication
import PHIGuardPasswords
import PHIGuardRateLimit
import PHIGuardTOTP
import Synchronization

/// An account table in memory, as an app would keep it.
final class TestAccounts: AccountDirectory {
    struct Entry {
        var loginName: String
        var skeleton: String
        var account: Account
    }
    private let entries = Mutex<[String: Entry]>([:])
    private let nextID = Atomic(1)

    func account(loginName: LoginName) async -> Account? {
        entries.withLock { $0.values.first { $0.loginName == loginName.value }?.account }
    }
    func account(id accountID: String) async -> Account? { entries.withLock { $0[accountID]?.account } }
    /// Refuses a taken name and a look-alike of one (equal skeletons), as the protocol asks.
    func createAccount(loginName: LoginName, passwordHash: String, totp: TOTP?) async -> String? {
        let id = "acct-\(nextID.add(1, ordering: .relaxed).oldValue)"
        return entries.withLock { entries in
            guard
                !entries.values.contains(where: {
                    $0.loginName == loginName.value || $0.skeleton == loginName.skeleton
                })
            else { return nil }
            entries[id] = Entry(
                loginName: loginName.value, skeleton: loginName.skeleton,
                account: Account(
                    id: id, passwordHash: passwordHash, totp: totp, roles: ["patient"], patientID: "p-\(id)"))
            return id
        }
    }
    func setPasswordHash(_ passwordHash: String, accountID: String) async {
        entries.withLock { $0[accountID]?.account.passwordHash = passwordHash }
    }
    func update(_ accountID: String, _ change: (inout Account) -> Void) {
        entries.withLock { entries in
            if var entry = entries[accountID] {
                change(&entry.account)
                entries[accountID] = entry
            }
        }
    }
    /// Adds an account under the canonical form of `loginName` (which must be valid).
    func add(loginName: String, account: Account) {
        let name = try! LoginName(loginName)
        entries.withLock {
            $0[account.id] = Entry(loginName: name.value, skeleton: name.skeleton, account: account)
        }
    }
}

/// A flow over in-memory parts with cheap Argon2id parameters, plus helpers to sign people in.
struct Harness {
    static let password = "correct horse battery staple"
    static let policy = """
        version: 1
        actions: [export]
        resourceTypes:
          - name: chart
            fields: [demographics, medications, labs]
            actions: [read, update, export]
        roles:
          - name: patient
          - name: physician
        rules:
          - id: patient-reads-own-chart
            effect: allow
            roles: [patient]
            actions: [read, export]
            resourceTypes: [chart]
            when: { relationship: self }
          - id: physician-reads-charts
            effect: allow
            roles: [physician]
            actions: [read, update, export]
            resourceTypes: [chart]
        """

    let clock = ManualClock()
    let accounts = TestAccounts()
    let store: any SessionStore
    let hasher: PasswordHasher
    let flow: LoginFlow
    let engine: AccessEngine

    init(
        store: any SessionStore = InMemorySessionStore(), configuration: LoginConfiguration = LoginConfiguration(),
        lockout: LockoutPolicy = .standard, throttle: (any LockoutStore)? = nil,
        rateLimits: LoginFlow.RateLimits = LoginFlow.RateLimits(),
        audit: AuditLog? = nil, recoveryCodes: (hasher: RecoveryCodeHasher, store: any RecoveryCodeStore)? = nil,
        memoryKiB: UInt32 = 4_096, metrics: any MetricsFactory = MetricsSystem.factory,
        careTeams: (any CareTeamStore)? = nil
    ) throws {
        self.store = store
        hasher = try PasswordHasher(
            configuration: .init(parameters: try Argon2Parameters(memoryKiB: memoryKiB, iterations: 1, parallelism: 1)))
        let clock = self.clock
        flow = try LoginFlow(
            accounts: accounts, sessions: store, passwords: hasher,
            totp: try TOTPVerifier(replayStore: InMemoryTOTPReplayStore(), lockout: nil),
            recoveryCodes: recoveryCodes,
            throttle: throttle ?? InMemoryLockoutStore(policy: lockout, clock: clock),
            rateLimiter: RateLimiter(store: try InMemoryRateLimitStore(clock: clock)),
            rateLimits: rateLimits, audit: audit, clock: clock, configuration: configuration, metrics: metrics,
            // The in-memory store gets the flow's per-process default key; the others need one given.
            sealingKey: store is InMemorySessionStore ? nil : try RowSealingKey.generate(), careTeams: careTeams)
        engine = AccessEngine(policy: try CompiledPolicy(yaml: Self.policy), clock: clock, metrics: metrics)
    }

    /// Adds an account with the standard password and (by default) a TOTP authenticator.
    @discardableResult
    func addAccount(
        _ loginName: String, id: String, roles: [String] = ["patient"], patientID: String? = "p-7",
        withTOTP: Bool = true, attributes: [String: String] = [:]
    ) async throws -> Account {
        let account = Account(
            id: id, passwordHash: try await hasher.hash(Self.password),
            totp: withTOTP ? TOTP(secret: try TOTPSecret()) : nil, roles: roles, patientID: patientID,
            attributes: attributes)
        accounts.add(loginName: loginName, account: account)
        return account
    }

    /// The current TOTP code of `account`.
    func code(for account: Account) throws -> String { try account.totp!.code(at: clock.now) }

    /// Password, then TOTP: a complete sign-in.
    func signIn(_ loginName: String, _ account: Account, address: String = "203.0.113.5") async throws
        -> AuthenticatedSession
    {
        guard
            case .awaitingSecondFactor(let pending) = try await flow.signIn(
                loginName: loginName, password: Self.password, clientAddress: address)
        else { throw HarnessError.unexpectedState }
        return try await flow.verifySecondFactor(pending, .totp(try code(for: account)), clientAddress: address)
    }
}

enum HarnessError: Error { case unexpectedState }

extension AccessAction {
    /// The policy's custom `export` action.
    static let export = AccessAction("export")
}
