internal import PHIGuardAccess
internal import PHIGuardAudit
internal import PHIGuardAuthentication
internal import PHIGuardCrypto
internal import PHIGuardPasswords
internal import PHIGuardSQLite
public import PHIGuardTOTP

/// A staff account ``Portal/addStaff(token:loginName:roles:)`` created: what the administrator hands
/// over once, in person or over a trusted channel.
public struct NewStaffAccount: Sendable {
    /// The login name (canonical form).
    public let loginName: String
    /// The roles given.
    public let roles: [String]
    /// The temporary password (random, 100 bits): shown once, then only its Argon2id hash exists.
    /// The staff member replaces it with `password change` after the first sign-in.
    public let temporaryPassword: String
    /// The TOTP authenticator enrolled for the account: show its URI or QR code once for the staff
    /// member's authenticator app. Sign-in asks for its code; without it the account reaches nothing.
    public let enrollment: TOTPEnrollment
}

extension Portal {
    /// Replaces the roles of the account `loginName` (admins: the policy's `user-account` update,
    /// decided and audited). Every session of that account ends (`LoginFlow.accountPrivilegesChanged`),
    /// so the new roles count from its next sign-in. Roles must be ``PortalRoles/all`` members, and a
    /// staff role is refused for an account without a TOTP authenticator.
    public func setRoles(token: String?, loginName: String, roles: [String]) async throws {
        let session = try await session(token)
        try await requireDecision(
            session, .update, Resource(type: "user-account", id: "staff"), operation: "staff-roles")
        guard !roles.isEmpty, roles.allSatisfy(PortalRoles.all.contains) else {
            throw PortalError.invalidInput("roles")
        }
        guard let name = try? LoginName(loginName), let account = try await accounts.account(loginName: name) else {
            throw PortalError.unknownAccount
        }
        let accountID = account.id
        // Staff must have a second factor: a staff role is not given to a password-only account.
        if PortalRoles.isStaff(roles), account.totp == nil { throw PortalError.invalidInput("second factor") }
        try await accounts.setRoles(roles, accountID: accountID)
        try await flow.accountPrivilegesChanged(accountID: accountID)
    }

    /// Disables (or enables) the account `loginName` (admins, decided and audited); disabling ends
    /// every session of the account at once.
    public func setDisabled(token: String?, loginName: String, disabled: Bool) async throws {
        let session = try await session(token)
        try await requireDecision(
            session, .update, Resource(type: "user-account", id: "staff"), operation: "staff-disable")
        let accountID = try await accountID(loginName)
        try await accounts.setDisabled(disabled, accountID: accountID)
        if disabled { try await flow.revokeAllSessions(accountID: accountID, reason: "account-disabled") }
    }

    /// Creates a staff account (admins: the policy's `user-account` update, decided and audited)
    /// with `roles` (``PortalRoles/all`` members, at least one a staff role, never `patient`), a
    /// random temporary password and an enrolled TOTP authenticator: staff always have a second
    /// factor, so their sign-in always asks for a code. The password is temporary
    /// (``passwordChangeAttribute``): a session signed in with it reaches nothing until
    /// ``changePassword(token:current:new:clientAddress:)`` replaces it. A taken (or look-alike) name is
    /// ``PortalError/invalidInput(_:)`` (an administrator may know which names exist).
    public func addStaff(token: String?, loginName: String, roles: [String]) async throws -> NewStaffAccount {
        let session = try await session(token)
        try await requireDecision(
            session, .update, Resource(type: "user-account", id: "staff"), operation: "staff-add")
        guard !roles.isEmpty, roles.allSatisfy(PortalRoles.all.contains), !roles.contains("patient") else {
            throw PortalError.invalidInput("roles")
        }
        let name: LoginName
        do {
            name = try LoginName(loginName)
            try name.checkRegistrable()
        } catch {
            throw AuthenticationError.loginNameNotAccepted(error)
        }
        let password = try Self.temporaryPassword()
        let enrollment = try TOTPEnrollment(issuer: "PHIGuard Portal", accountName: name.value)
        let hash = try await passwords.hash(secret: try PasswordSecret(password))
        guard
            let accountID = try await accounts.createAccount(loginName: name, passwordHash: hash, totp: enrollment.totp)
        else { throw PortalError.invalidInput("login name taken") }
        try await accounts.setRoles(roles, accountID: accountID)
        // The password was shown to the administrator: the first session may only replace it.
        try await accounts.setAttributes([Self.passwordChangeAttribute: "required"], accountID: accountID)
        try await audit.append(try .mfa(.mfaEnrolled, userID: accountID, succeeded: true, factor: "totp"))
        return NewStaffAccount(
            loginName: name.value, roles: roles, temporaryPassword: password, enrollment: enrollment)
    }

    /// 20 random characters of the recovery-code alphabet (5 bits each), in groups of five.
    static func temporaryPassword() throws -> String {
        let alphabet = Array(RecoveryCodeHasher.alphabet)
        for _ in 0..<8 {
            var bytes = try Sodium.randomBytes(count: 20)
            defer { Sodium.zero(&bytes) }
            let characters = bytes.map { alphabet[Int($0 & 31)] }
            let password = stride(from: 0, to: 20, by: 5).map { String(characters[$0..<$0 + 5]) }
                .joined(separator: "-")
            if PasswordPolicy().violations(of: password, usage: .withMultiFactor).isEmpty { return password }
        }
        throw PortalError.invalidInput("temporary password")
    }

    private func accountID(_ loginName: String) async throws -> String {
        guard let name = try? LoginName(loginName), let account = try await accounts.account(loginName: name) else {
            throw PortalError.unknownAccount
        }
        return account.id
    }
}
