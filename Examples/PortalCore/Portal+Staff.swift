internal import PHIGuardAccess
internal import PHIGuardAuthentication
internal import PHIGuardSQLite

extension Portal {
    /// Replaces the roles of the account `loginName` (admins: the policy's `user-account` update,
    /// decided and audited). Every session of that account ends (`LoginFlow.accountPrivilegesChanged`),
    /// so the new roles count from its next sign-in. Roles must be ``PortalRoles/all`` members.
    public func setRoles(token: String?, loginName: String, roles: [String]) async throws {
        let session = try await session(token)
        try await requireDecision(
            session, .update, Resource(type: "user-account", id: "staff"), operation: "staff-roles")
        guard !roles.isEmpty, roles.allSatisfy(PortalRoles.all.contains) else {
            throw PortalError.invalidInput("roles")
        }
        let accountID = try await accountID(loginName)
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

    private func accountID(_ loginName: String) async throws -> String {
        guard let name = try? LoginName(loginName), let account = try await accounts.account(loginName: name) else {
            throw PortalError.unknownAccount
        }
        return account.id
    }
}
