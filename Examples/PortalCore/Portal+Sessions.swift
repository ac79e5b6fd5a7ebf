public import Foundation
internal import PHIGuardAccess
internal import PHIGuardAudit
public import PHIGuardAuthentication
internal import PHIGuardCrypto
public import PHIGuardPasswords
internal import PHIGuardRecords
internal import PHIGuardSQLite
public import PHIGuardTOTP

/// Who a session belongs to (``Portal/whoami(token:)``).
public struct PortalIdentity: Sendable, Hashable {
    /// The account id.
    public let accountID: String
    /// The account's roles.
    public let roles: [String]
    /// The patient the account is, if any.
    public let patientID: String?
    /// The session's public handle (never the token).
    public let sessionHandle: String
    /// `single-factor` or `multi-factor`.
    public let strength: String
    /// When the session ends at the latest.
    public let expiresAt: Date
    /// Whether the account still has its temporary password (``Portal/addStaff(token:loginName:roles:)``):
    /// the session reaches nothing but ``Portal/changePassword(token:current:new:clientAddress:)``.
    public let passwordChangeRequired: Bool

    init(_ session: AuthenticatedSession) {
        let subject = session.principal.subject
        accountID = subject.id
        roles = subject.roles.sorted()
        patientID = subject.patientID
        sessionHandle = session.record.handle
        strength = session.principal.strength.rawValue
        expiresAt = session.principal.validUntil
        passwordChangeRequired = Portal.requiresPasswordChange(session)
    }
}

/// The outcome of ``Portal/signIn(loginName:password:replacing:)``.
public enum PortalSignIn: Sendable {
    /// Signed in; `token` is the new session's cookie value.
    case signedIn(token: String, identity: PortalIdentity)
    /// The password was right; `token` is a pending session (no principal) until
    /// ``Portal/verifySecondFactor(token:code:)`` accepts a code.
    case needsSecondFactor(token: String)
}

/// What a PHI request from a session without a principal asked for (audited as denied).
public struct PortalAttempt: Sendable {
    /// The action (`read`, `update`, `export`, …).
    public var action: String
    /// The resource type.
    public var resourceType: String
    /// The patient named, if any (dropped when it is not a valid audit identifier).
    public var patientID: String?

    /// An attempt to `action` a `resourceType` of `patientID`.
    public init(action: String, resourceType: String, patientID: String?) {
        self.action = action
        self.resourceType = resourceType
        self.patientID = patientID
    }
}

extension Portal {
    // MARK: Sessions

    /// The authenticated session `token` names. Anything else (no token, ended, registering,
    /// awaiting the second factor, recovering, or a staff account's session that did not pass a
    /// second factor) is ``PortalError/notSignedIn``; with `attempt`, a
    /// request from a session in one of those states is audited as a denied access first (the
    /// OpenEMR CVE-2018-15152 path, tried and refused). A session of an account that still has its
    /// temporary password (``PortalIdentity/passwordChangeRequired``) is refused with
    /// ``PortalError/notPermitted(_:)`` `password-change-required`, audited as a denied access
    /// every time (with `attempt`, or as a `use` of the `portal`), until the password is changed.
    public func session(_ token: String?, attempt: PortalAttempt? = nil) async throws -> AuthenticatedSession {
        try await session(token, attempt: attempt, allowingPasswordChange: false)
    }

    /// ``session(_:attempt:)``; with `allowingPasswordChange`, a session that must change its
    /// password passes (for the password change itself).
    func session(_ token: String?, attempt: PortalAttempt?, allowingPasswordChange: Bool) async throws
        -> AuthenticatedSession
    {
        let resumed = try await flow.resume(token)
        guard case .authenticated(let session) = resumed else {
            if let attempt { try await auditRefusal(of: resumed, attempt) }
            throw PortalError.notSignedIn
        }
        // Staff must have passed a second factor: a staff role on a password-only session (an
        // account given a staff role without an authenticator) reaches nothing.
        if PortalRoles.isStaff(session.principal.subject.roles), session.principal.strength != .multiFactor {
            if let attempt {
                try await auditRefusal(handle: session.record.handle, attempt, reason: "staff-without-second-factor")
            }
            throw PortalError.notSignedIn
        }
        if !allowingPasswordChange, Self.requiresPasswordChange(session) {
            try await auditRefusal(
                handle: session.record.handle,
                attempt ?? PortalAttempt(action: "use", resourceType: "portal", patientID: nil),
                reason: "password-change-required")
            throw PortalError.notPermitted("password-change-required")
        }
        return session
    }

    /// Whether the session's account had to change its temporary password when the session was
    /// issued (the ``passwordChangeAttribute`` the sign-in copied from the account).
    static func requiresPasswordChange(_ session: AuthenticatedSession) -> Bool {
        session.principal.subject.attributes[passwordChangeAttribute] != nil
    }

    /// Records a PHI request from a session without a principal as a denied access. (No guarded
    /// path applies: `GuardedRecords` needs a principal, and these sessions have none.)
    func auditRefusal(of resumed: ResumedSession, _ attempt: PortalAttempt) async throws {
        let handle: String
        switch resumed {
        case .registering(let session): handle = session.record.handle
        case .awaitingSecondFactor(let session): handle = session.record.handle
        case .recovering(let session): handle = session.record.handle
        case .anonymous, .authenticated: return
        }
        try await auditRefusal(
            handle: handle, attempt, reason: "no-principal-\(resumed.state?.rawValue ?? "anonymous")")
    }

    /// Records `attempt` from the session `handle` as a denied access with `reason`.
    func auditRefusal(handle: String, _ attempt: PortalAttempt, reason: String) async throws {
        let target = attempt.patientID.flatMap { AuditIdentifier.isValid($0) ? $0 : nil }
        try await audit.append(
            try AuditEvent(
                kind: .accessDecision, timestamp: AuditEvent.timestamp(for: engine.clock.now), sessionID: handle,
                action: attempt.action, resourceType: attempt.resourceType, resourceID: target, patientID: target,
                outcome: .deny, reason: reason))
    }

    /// Signs in with a password held in guarded memory (`PasswordSecret`: wiped when released);
    /// `replacing` is the token the client held before (its session ends). `clientAddress` is the
    /// peer address rate limits count under (the configuration's by default).
    public func signIn(
        loginName: String, password: PasswordSecret, clientAddress: String? = nil, replacing previous: String? = nil
    ) async throws -> PortalSignIn {
        let replaced = try await flow.resume(previous)
        let progress = try await flow.signIn(
            loginName: loginName, passwordSecret: password,
            clientAddress: clientAddress ?? configuration.clientAddress, clientLabel: configuration.clientLabel,
            replacing: replaced)
        switch progress {
        case .authenticated(let session):
            return .signedIn(token: session.token.cookieValue, identity: PortalIdentity(session))
        case .awaitingSecondFactor(let pending):
            return .needsSecondFactor(token: pending.token.cookieValue)
        }
    }

    /// Checks the second factor of the pending session `token`: a TOTP code (digits) or a recovery
    /// code (anything else). Returns the signed-in session's token and identity.
    public func verifySecondFactor(token: String, code: String, clientAddress: String? = nil) async throws -> (
        token: String, identity: PortalIdentity
    ) {
        guard case .awaitingSecondFactor(let pending) = try await flow.resume(token) else {
            throw AuthenticationError.sessionEnded
        }
        let trimmed = code.trimmingCharacters(in: .whitespaces)
        let factor: SecondFactor =
            trimmed.allSatisfy(\.isASCII) && trimmed.allSatisfy(\.isNumber) ? .totp(trimmed) : .recoveryCode(trimmed)
        let session = try await flow.verifySecondFactor(
            pending, factor, clientAddress: clientAddress ?? configuration.clientAddress)
        return (session.token.cookieValue, PortalIdentity(session))
    }

    /// Ends the session `token` names, whatever its state; `false` if there was none.
    @discardableResult
    public func signOut(token: String?) async throws -> Bool {
        let resumed = try await flow.resume(token)
        try await flow.end(resumed)
        return resumed.state != nil
    }

    /// The state of the session `token` names without a principal (`registering`, …), or `nil`.
    public func pendingState(token: String?) async throws -> String? {
        let resumed = try await flow.resume(token)
        if case .authenticated = resumed { return nil }
        return resumed.state?.rawValue
    }

    /// Who the session `token` names belongs to.
    public func whoami(token: String?) async throws -> PortalIdentity {
        PortalIdentity(try await session(token))
    }

    /// The signed-in user's sessions.
    public func sessions(token: String?) async throws -> [SessionSummary] {
        try await flow.sessions(of: try await session(token))
    }

    /// Ends another session of the signed-in user by its handle; `false` if it is not one of theirs.
    public func endSession(token: String?, handle: String) async throws -> Bool {
        try await flow.endSession(handle: handle, of: try await session(token))
    }

    /// ``signIn(loginName:password:clientAddress:replacing:)`` for a password held as a `String`
    /// (copied once into guarded memory; the `String` itself stays in ordinary memory).
    public func signIn(
        loginName: String, password: String, clientAddress: String? = nil, replacing previous: String? = nil
    ) async throws -> PortalSignIn {
        try await signIn(
            loginName: loginName, password: try PasswordSecret(password), clientAddress: clientAddress,
            replacing: previous)
    }

    // MARK: Registration

    /// Starts a self-registration: a registration session (no principal) whose token is returned.
    public func beginRegistration(replacing previous: String? = nil) async throws -> String {
        let replaced = try await flow.resume(previous)
        let session = try await flow.beginRegistration(clientLabel: configuration.clientLabel, replacing: replaced)
        return session.token.cookieValue
    }

    /// A TOTP enrolment for `loginName` (show its URI or QR code, then ``completeRegistration``).
    public func newEnrollment(loginName: String) throws -> TOTPEnrollment {
        try TOTPEnrollment(issuer: "PHIGuard Portal", accountName: loginName)
    }

    /// Completes a self-registration with a password held in guarded memory (`PasswordSecret`).
    /// The answer is the same whether or not the name was free (enumeration-safe).
    ///
    /// TOTP is optional for patients: pass the `enrollment` you showed (its URI or QR code) and a
    /// `code` it produced, and the flow checks the code (at the portal's clock) and records it as
    /// used, so it cannot sign in as well; pass neither for a password-only account. An enrolment
    /// without a right code is `AuthenticationError.rejected`.
    ///
    /// The account, if created, gets the `patient` role and a patient record the **server** creates
    /// (index entry and chart) under a fresh random id (``newPatientID()``): nothing the client sends
    /// chooses which patient the account is. The index entry holds the `name` and `birthDate` given
    /// (encrypted, with their blind indexes, as the seed stores them), so the front desk finds the
    /// new patient by name; the chart stays empty until staff fill it in. A malformed name or
    /// birth date (``validatedDemographics(name:birthDate:)``) is ``PortalError/invalidInput(_:)``
    /// before anything is created. `clientAddress` is the peer address rate limits count under (the
    /// configuration's by default).
    public func completeRegistration(
        token: String, loginName: String, password: PasswordSecret, enrollment: TOTPEnrollment? = nil,
        code: String? = nil, clientAddress: String? = nil, name: String? = nil, birthDate: String? = nil
    ) async throws {
        guard case .registering(let session) = try await flow.resume(token) else {
            throw AuthenticationError.sessionEnded
        }
        let demographics = try Self.validatedDemographics(name: name, birthDate: birthDate, today: engine.clock.now)
        if enrollment != nil, code == nil { throw AuthenticationError.rejected }
        let created = try await flow.completeRegistration(
            session, loginName: loginName, passwordSecret: password,
            clientAddress: clientAddress ?? configuration.clientAddress, authenticator: enrollment?.totp,
            confirmationCode: enrollment == nil ? nil : code)
        guard let accountID = created else { return }
        if enrollment != nil {
            try await audit.append(try .mfa(.mfaEnrolled, userID: accountID, succeeded: true, factor: "totp"))
        }
        try await linkNewPatient(accountID: accountID, identity: demographics)
    }

    /// ``completeRegistration(token:loginName:password:enrollment:code:clientAddress:name:birthDate:)``
    /// for a password held as a `String` (copied once into guarded memory).
    public func completeRegistration(
        token: String, loginName: String, password: String, enrollment: TOTPEnrollment? = nil, code: String? = nil,
        clientAddress: String? = nil, name: String? = nil, birthDate: String? = nil
    ) async throws {
        try await completeRegistration(
            token: token, loginName: loginName, password: try PasswordSecret(password), enrollment: enrollment,
            code: code, clientAddress: clientAddress, name: name, birthDate: birthDate)
    }

    /// The longest registered name accepted, in UTF-8 bytes.
    public static let maximumNameLength = 200

    /// The patient-index values of a registration: `name` trimmed (1 to ``maximumNameLength`` bytes,
    /// no control characters), `birthDate` a real `YYYY-MM-DD` date not after `today` (UTC). Either
    /// may be `nil` (left out); anything else malformed is ``PortalError/invalidInput(_:)``.
    static func validatedDemographics(name: String?, birthDate: String?, today: Date) throws -> [String: String] {
        var values: [String: String] = [:]
        if let name {
            let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty, trimmed.utf8.count <= maximumNameLength,
                !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
            else { throw PortalError.invalidInput("name") }
            values["name"] = trimmed
        }
        if let birthDate {
            guard birthDate.utf8.count == 10, birthDate.wholeMatch(of: /[0-9]{4}-[0-9]{2}-[0-9]{2}/) != nil else {
                throw PortalError.invalidInput("birth date")
            }
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withFullDate]
            // A real day (2026-02-30 is refused: it would not print back the same), not in the future.
            guard let day = formatter.date(from: birthDate), formatter.string(from: day) == birthDate, day <= today
            else { throw PortalError.invalidInput("birth date") }
            values["birth-date"] = birthDate
        }
        return values
    }

    /// A fresh server-chosen patient id: `p-` and 20 random hex digits (never a number a client could
    /// predict or pick, and never one of the seeded `p-N`).
    public static func newPatientID() throws -> String {
        "p-" + Hex.encode(try Sodium.randomBytes(count: 10))
    }

    /// Creates a patient record under a new id (an index entry holding `identity`, sealed as the
    /// seed seals it, and an empty chart), then gives the new account `accountID` the `patient` role
    /// and links it to that record.
    ///
    /// The creation is audited first (committed before any row is written, as `GuardedRecords`
    /// audits before it writes): actor the new account, action `create` on `patient-index`, reason
    /// `self-registration`, with the names of the fields given (never their values): the identity is
    /// the registrant's own claim, which the front desk verifies before clinical use.
    func linkNewPatient(accountID: String, identity: [String: String] = [:]) async throws {
        let patientID = try Self.newPatientID()
        try await audit.append(
            try AuditEvent(
                kind: .accessDecision, timestamp: AuditEvent.timestamp(for: engine.clock.now), actorID: accountID,
                actorRole: "patient", action: "create", resourceType: "patient-index", resourceID: patientID,
                patientID: patientID, fields: identity.keys.sorted(), outcome: .allow, reason: "self-registration"),
            durability: .committed)
        for (schema, values) in [(patientIndex.schema, identity), (charts.schema, [:])] {
            guard
                try await recordStore.insert(
                    StoredRecord(
                        id: patientID, patientID: patientID, columns: try sealedColumns(patientID, values, schema)),
                    schema: schema)
            else { throw PortalError.invalidInput("patient id collision") }
        }
        try await accounts.setPatientID(patientID, accountID: accountID)
        try await accounts.setRoles(["patient"], accountID: accountID)
    }

    // MARK: Demo helper

    /// DEMO ONLY: the code a seeded demo account's authenticator shows now (or the next one, if the
    /// current code was used). Refused for any account the seed did not make.
    public func demoCode(loginName: String) async throws -> String {
        guard let name = try? LoginName(loginName), let account = try await accounts.account(loginName: name),
            account.attributes[PortalSeed.demoAttribute] == "yes", let totp = account.totp
        else { throw PortalError.notADemoAccount }
        let now = try totp.timeStep(unixSeconds: flow.clock.wallClockSeconds())
        let used = try await totpSteps.lastAcceptedStep(accountID: account.id) ?? 0
        let step = max(now, used + 1)
        guard step <= now + 1 else { throw PortalError.codeNotReady }
        return totp.code(forStep: step)
    }
}
