internal import Foundation
internal import PHIGuardCrypto
public import PHIGuardTOTP

/// A reference ``AccountDirectory`` in process memory: for tests, demos and single-process tools.
/// Accounts are lost when the process ends. Nothing is at rest, so nothing is sealed; the SQLite
/// and PostgreSQL directories (`SQLiteAccountDirectory`, `PostgresAccountDirectory`) seal every row.
///
/// New accounts get a random id (`a-` and 32 hex digits), no roles, no patient link: give them
/// roles with ``setRoles(_:accountID:)`` (``AccountAdministration``).
public final class InMemoryAccountDirectory: AccountAdministration {
    fileprivate struct Entry {
        var loginName: String
        var skeleton: String
        var account: Account
    }

    private let entries = LockedEntries([:])

    /// An empty directory.
    public init() {}

    /// The account whose canonical login name is `loginName.value`.
    public func account(loginName: LoginName) -> Account? {
        entries.withLock { $0.values.first { $0.loginName == loginName.value }?.account }
    }

    /// The account with id `accountID`.
    public func account(id accountID: String) -> Account? {
        entries.withLock { $0[accountID]?.account }
    }

    /// Creates the account unless its name or its skeleton is taken (checked and inserted under one lock).
    public func createAccount(loginName: LoginName, passwordHash: String, totp: TOTP?) throws(AccountDirectoryError)
        -> String?
    {
        guard let random = try? Sodium.randomBytes(count: 16) else { throw .unavailable("no randomness") }
        let id = "a-" + Hex.encode(random)
        return entries.withLock { entries in
            guard
                !entries.values.contains(where: { $0.loginName == loginName.value || $0.skeleton == loginName.skeleton }
                )
            else { return nil }
            entries[id] = Entry(
                loginName: loginName.value, skeleton: loginName.skeleton,
                account: Account(id: id, passwordHash: passwordHash, totp: totp, roles: []))
            return id
        }
    }

    /// Replaces the password hash.
    public func setPasswordHash(_ passwordHash: String, accountID: String) throws(AccountDirectoryError) {
        try update(accountID) { $0.passwordHash = passwordHash }
    }

    /// Replaces the roles.
    public func setRoles(_ roles: [String], accountID: String) throws(AccountDirectoryError) {
        try update(accountID) { $0.roles = roles }
    }

    /// Sets the patient link.
    public func setPatientID(_ patientID: String?, accountID: String) throws(AccountDirectoryError) {
        try update(accountID) { $0.patientID = patientID }
    }

    /// Disables or re-enables the account.
    public func setDisabled(_ isDisabled: Bool, accountID: String) throws(AccountDirectoryError) {
        try update(accountID) { $0.isDisabled = isDisabled }
    }

    /// Replaces the subject attributes.
    public func setAttributes(_ attributes: [String: String], accountID: String) throws(AccountDirectoryError) {
        try update(accountID) { $0.attributes = attributes }
    }

    /// Replaces the TOTP authenticator.
    public func setTOTP(_ totp: TOTP?, accountID: String) throws(AccountDirectoryError) {
        try update(accountID) { $0.totp = totp }
    }

    private func update(_ accountID: String, _ change: (inout Account) -> Void) throws(AccountDirectoryError) {
        let found = entries.withLock { entries in
            guard entries[accountID] != nil else { return false }
            change(&entries[accountID]!.account)
            return true
        }
        guard found else { throw .unknownAccount }
    }
}

/// The directory's table behind PHIGuard's lock (`Locked`, which ThreadSanitizer sees).
private typealias LockedEntries = Locked<[String: InMemoryAccountDirectory.Entry]>
