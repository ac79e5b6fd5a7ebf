/// The app under attack: the few operations the attack scenarios drive, in the app's own words.
///
/// Implement it in your test target over your real service layer (the code your HTTP handlers or
/// CLI commands call), not over PHIGuard's types directly: the point is to attack *your* wiring.
/// Every method answers the way your app answers a client: a session is the opaque value you would
/// put in a cookie, and a refusal is the public message you would show (with its reference apart).
///
/// An operation your app does not have is left out of ``capabilities``; the scenarios that need it
/// report ``AttackVerdict/notApplicable(reason:)`` (never counted as blocked), and its method is never
/// called (the default implementations throw ``AttackTargetError/unsupported(_:)``).
///
/// Methods throw only when the *test harness* fails (the database could not be opened, a fixture is
/// missing): a refusal of the attack is a returned ``AttackResponse/refused(_:)``, not a throw. A
/// scenario that meets a thrown error reports ``AttackVerdict/inconclusive(reason:)``.
public protocol AttackTarget: Sendable {
    /// What the app offers beyond signing in and reading a record.
    var capabilities: Set<AttackCapability> { get }
    /// The test accounts and records the scenarios use (seeded by the app before the run).
    var fixture: AttackFixture { get }

    /// Signs in with a password as a client at `clientAddress`, presenting `presented` (the session
    /// cookie the client already holds, if any: a fixation attempt presents one).
    func signIn(loginName: String, password: String, clientAddress: String, presenting presented: AttackSession?)
        async throws -> SignInOutcome

    /// Sends a second-factor code for a session that is waiting for one.
    func sendSecondFactorCode(_ code: String, session: AttackSession, clientAddress: String) async throws
        -> SignInOutcome

    /// A valid current second-factor (TOTP) code of a test account, from its authenticator.
    func currentSecondFactorCode(for account: AttackAccount) async throws -> String

    /// Performs a record operation as the holder of `session` (any session state: the app decides).
    func perform(_ operation: RecordOperation, as session: AttackSession) async throws -> AttackResponse

    /// Signs the holder of `session` out.
    func signOut(_ session: AttackSession) async throws

    /// Searches the records of `type` the holder of `session` may see for `term`, as the app's search
    /// box does (whatever field it searches). The answer's values are keyed by the ids of the records
    /// found. Needs ``AttackCapability/search``.
    func search(type: String, term: String, as session: AttackSession) async throws -> AttackResponse

    /// Lists the records of `type` the holder of `session` may see, with the query parameters a client
    /// sent, exactly as the app's web or CLI front end receives them (no parsing by the suite): `sort`
    /// (a field or key name, `-` in front for descending), `filter.<field>` (an exact value),
    /// `limit` (the page size, as text) and `cursor` (a cursor a previous page returned). The answer's
    /// values are keyed by the ids of the records on the page, plus the next page's cursor (if any)
    /// under ``AttackResponse/nextCursorKey``. A parameter the app does not accept is a refusal.
    /// Needs ``AttackCapability/listParameters``.
    func list(type: String, parameters: [String: String], as session: AttackSession) async throws -> AttackResponse

    /// The largest page ``list(type:parameters:as:)`` may return, whatever `limit` says; `nil` (the
    /// default) when the app names none (the scenario then bounds a page by the records the user may see).
    var maximumListPageSize: Int? { get }

    /// Reproduces `fault` in the app's own storage or keys, performs `operation` as the holder of
    /// `session` the way a client's next request reaches the app then (a new process or connection
    /// where the fault only shows on one), and returns what the client saw; then undoes the fault
    /// completely (the scenarios after it must find the app as before). `nil` when the fault does not
    /// apply to this app (a file fault on a server database). Needs ``AttackCapability/faults``.
    func underFault(_ fault: AttackFault, _ operation: RecordOperation, as session: AttackSession) async throws
        -> AttackResponse?

    /// Opens a registration (sign-up) session: the state before any account exists. Needs ``AttackCapability/registration``.
    func beginRegistration(clientAddress: String) async throws -> AttackSession

    /// Completes a registration begun with ``beginRegistration(clientAddress:)``. `claimedPatientID` is
    /// what a hostile client adds to the request (a patient id it chose); an app that ignores it is right.
    func completeRegistration(
        _ session: AttackSession, loginName: String, password: String, claimedPatientID: String?, clientAddress: String
    ) async throws -> AttackResponse

    /// A current second-factor (TOTP) code of an account the suite registered itself
    /// (``completeRegistration(_:loginName:password:claimedPatientID:clientAddress:)``), from the
    /// authenticator the app enrolled during that sign-up; `nil` when the app enrols none at sign-up or
    /// the target cannot produce one (the default). With `nil`, a scenario whose new account's sign-in
    /// asks for a second factor reports ``AttackVerdict/notApplicable(reason:)``.
    func secondFactorCode(forRegistered loginName: String) async throws -> String?

    /// Asks for a password-recovery link for `loginName`; the answer the client sees. Needs ``AttackCapability/passwordRecovery``.
    func requestPasswordRecovery(loginName: String, clientAddress: String) async throws -> AttackResponse

    /// The session that the recovery link last sent to `account` opens (what its e-mail held), or `nil`.
    func openRecoveryLink(for account: AttackAccount) async throws -> AttackSession?

    /// Changes the password of the holder of `session`. Needs ``AttackCapability/passwordChange``.
    /// Returns the session to use from now on (``SignInOutcome/authenticated(_:)``: apps rotate it),
    /// or the refusal.
    func changePassword(_ session: AttackSession, current: String, new: String) async throws -> SignInOutcome

    /// Breaks the glass for `patientID` as the holder of `session`. Needs ``AttackCapability/breakGlass``.
    func breakGlass(patientID: String, reason: String, justification: String, as session: AttackSession)
        async throws -> AttackResponse

    /// Moves the app's clock forward (sessions, grants and throttles expire). Needs ``AttackCapability/clockControl``.
    func advanceClock(by duration: Duration) async throws

    /// Forgets every failure counter and rate-limit bucket, so timing runs measure the work, not the
    /// throttle. Needs ``AttackCapability/throttleReset``; used by the oracle scenario only.
    func resetThrottling() async throws

    /// Verifies the audit log as the app's auditors would (chain, checkpoints, any witness): `true`
    /// when intact. Needs ``AttackCapability/auditVerification``.
    func verifyAuditLog() async throws -> Bool

    /// Raw access to the app's database, for the scenarios that tamper with it or scan it. Needs ``AttackCapability/storage``.
    var storage: (any AttackStorage)? { get }

    /// Exports record `id` of `type` as the holder of `session` to `path`, exactly as a client sends
    /// the app's output-path parameter (the app decides how a path maps into its export folder).
    /// `.allowed` means the app wrote the export. Needs ``AttackCapability/export``.
    func export(type: String, id: String, to path: String, as session: AttackSession) async throws -> AttackResponse

    /// The folder the app writes exports to (the scenario plants a symbolic link there and removes
    /// what it made afterwards). Needs ``AttackCapability/export``.
    var exportFolder: String? { get }
}

/// An optional operation of an ``AttackTarget``.
public enum AttackCapability: String, Sendable, Hashable, Codable, CaseIterable {
    /// ``AttackTarget/beginRegistration(clientAddress:)`` and ``AttackTarget/completeRegistration(_:loginName:password:claimedPatientID:clientAddress:)``.
    case registration
    /// ``AttackTarget/requestPasswordRecovery(loginName:clientAddress:)`` and ``AttackTarget/openRecoveryLink(for:)``.
    case passwordRecovery
    /// ``RecordOperation/update(type:id:changes:)``.
    case recordUpdate
    /// ``RecordOperation/delete(type:id:)``.
    case recordDelete
    /// ``RecordOperation/list(type:)``.
    case recordList
    /// ``AttackTarget/changePassword(_:current:new:)``.
    case passwordChange
    /// ``AttackTarget/breakGlass(patientID:reason:justification:as:)``.
    case breakGlass
    /// ``AttackTarget/advanceClock(by:)``.
    case clockControl
    /// ``AttackTarget/resetThrottling()``.
    case throttleReset
    /// ``AttackTarget/verifyAuditLog()``.
    case auditVerification
    /// ``AttackTarget/storage``.
    case storage
    /// ``AttackTarget/search(type:term:as:)``.
    case search
    /// ``AttackTarget/export(type:id:to:as:)`` and ``AttackTarget/exportFolder``.
    case export
    /// ``AttackTarget/list(type:parameters:as:)``: a list request with client-supplied sort, filter,
    /// limit and cursor parameters.
    case listParameters
    /// ``AttackTarget/underFault(_:_:as:)``: the app reproduces a broken database file, an
    /// unreadable key and an unreachable database server.
    case faults
}

/// A fault an ``AttackTarget`` reproduces for ``AttackTarget/underFault(_:_:as:)`` (attack 20).
public enum AttackFault: String, Sendable, Hashable, Codable, CaseIterable {
    /// The database file's bytes are damaged (pages overwritten with garbage).
    case corruptDatabaseFile
    /// A key file the app needs cannot be used (garbage in place of the key, or unreadable).
    case unreadableKeys
    /// The database server is stopped or unreachable.
    case databaseUnavailable
}

/// A harness failure of an ``AttackTarget`` (not a refusal of the attack).
public enum AttackTargetError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The app does not offer this operation (it should not be in ``AttackTarget/capabilities``).
    case unsupported(String)

    /// A fixed text naming the operation.
    public var description: String {
        switch self {
        case .unsupported(let operation): "the target does not support \(operation)"
        }
    }
}

extension AttackTarget {
    /// Not supported unless implemented.
    public func beginRegistration(clientAddress: String) async throws -> AttackSession {
        throw AttackTargetError.unsupported("registration")
    }
    /// Not supported unless implemented.
    public func completeRegistration(
        _ session: AttackSession, loginName: String, password: String, claimedPatientID: String?, clientAddress: String
    ) async throws -> AttackResponse { throw AttackTargetError.unsupported("registration") }
    /// `nil` unless implemented: the suite then cannot pass a second factor enrolled at sign-up.
    public func secondFactorCode(forRegistered loginName: String) async throws -> String? { nil }
    /// Not supported unless implemented.
    public func requestPasswordRecovery(loginName: String, clientAddress: String) async throws -> AttackResponse {
        throw AttackTargetError.unsupported("password recovery")
    }
    /// Not supported unless implemented.
    public func openRecoveryLink(for account: AttackAccount) async throws -> AttackSession? {
        throw AttackTargetError.unsupported("password recovery")
    }
    /// Not supported unless implemented.
    public func changePassword(_ session: AttackSession, current: String, new: String) async throws -> SignInOutcome {
        throw AttackTargetError.unsupported("password change")
    }
    /// Not supported unless implemented.
    public func breakGlass(patientID: String, reason: String, justification: String, as session: AttackSession)
        async throws -> AttackResponse
    { throw AttackTargetError.unsupported("break-glass") }
    /// Not supported unless implemented.
    public func advanceClock(by duration: Duration) async throws {
        throw AttackTargetError.unsupported("clock control")
    }
    /// Not supported unless implemented.
    public func resetThrottling() async throws { throw AttackTargetError.unsupported("throttle reset") }
    /// Not supported unless implemented.
    public func verifyAuditLog() async throws -> Bool { throw AttackTargetError.unsupported("audit verification") }
    /// Not supported unless implemented.
    public func search(type: String, term: String, as session: AttackSession) async throws -> AttackResponse {
        throw AttackTargetError.unsupported("search")
    }
    /// Not supported unless implemented.
    public func list(type: String, parameters: [String: String], as session: AttackSession) async throws
        -> AttackResponse
    { throw AttackTargetError.unsupported("list parameters") }
    /// `nil` unless implemented: no maximum named.
    public var maximumListPageSize: Int? { nil }
    /// Not supported unless implemented.
    public func underFault(_ fault: AttackFault, _ operation: RecordOperation, as session: AttackSession)
        async throws -> AttackResponse?
    { throw AttackTargetError.unsupported("faults") }
    /// No storage access unless implemented.
    public var storage: (any AttackStorage)? { nil }
    /// Not supported unless implemented.
    public func export(type: String, id: String, to path: String, as session: AttackSession) async throws
        -> AttackResponse
    { throw AttackTargetError.unsupported("export") }
    /// No export folder unless implemented.
    public var exportFolder: String? { nil }
}
