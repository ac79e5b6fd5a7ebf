public import PHIGuardTOTP

/// The app's user accounts, as the sign-in flow needs them. Implement it over your user table.
///
/// The flow asks the directory for the password hash, the second factor and the roles, and tells
/// it about new accounts and new password hashes. Adopt one of the reference directories
/// (``InMemoryAccountDirectory``, `SQLiteAccountDirectory` in `PHIGuardSQLite`,
/// `PostgresAccountDirectory` in `PHIGuardPostgres`: rows sealed with a ``RowSealingKey``) or
/// implement it over your own user table. A lookup that finds a row edited outside the app should
/// throw ``AccountDirectoryError/tampered(_:)`` (or a ``TamperedRowError``): the flow refuses the
/// sign-in like a wrong password and audits `integrity.tamper-detected`.
public protocol AccountDirectory: Sendable {
    /// The account whose stored login name is `loginName`.
    ///
    /// `loginName` is always the canonical form (``LoginName``): compare it exactly with the
    /// ``LoginName/value`` you stored at registration (or with a blind index of it, computed with the
    /// `.exact` normalisation). Add no matching rules of your own: two spellings the flow treats as
    /// different names must not reach one account, or they would escape each other's lockout.
    func account(loginName: LoginName) async throws -> Account?
    /// The account with id `accountID`.
    func account(id accountID: String) async throws -> Account?
    /// Creates an account for a completed registration and returns its id; `nil` if `loginName` is
    /// taken **or** another account's name looks like it.
    ///
    /// Store `loginName.value` (the canonical form) and `loginName.skeleton` (``LoginName/skeleton``),
    /// each under a unique constraint, and insert in one statement so that two registrations cannot
    /// both pass a check and then both insert. `totp` is the authenticator the user enrolled (and
    /// confirmed with a code) while registering; store its secret encrypted (for example with
    /// `PHIGuardFieldEncryption`).
    func createAccount(loginName: LoginName, passwordHash: String, totp: TOTP?) async throws -> String?
    /// Replaces the stored password hash of `accountID` (after a change, a recovery or a rehash).
    func setPasswordHash(_ passwordHash: String, accountID: String) async throws
}

/// One account as the directory returns it.
public struct Account: Sendable {
    /// The account id (stable; used in sessions, audit records and principals).
    public var id: String
    /// The stored Argon2id PHC string.
    public var passwordHash: String
    /// The enrolled TOTP authenticator, if any.
    public var totp: TOTP?
    /// The roles, by access-policy name.
    public var roles: [String]
    /// The patient this account *is* (portal users), for `relationship: self` rules.
    public var patientID: String?
    /// A disabled account signs in to nothing (and fails exactly like a wrong password).
    public var isDisabled: Bool
    /// Subject attributes (department, clearance, …) for `equalsSubject` and `attributes: {subject: …}`
    /// policy conditions: recorded in the session at sign-in, they become the principal's
    /// `Subject.attributes`.
    public var attributes: [String: String]

    /// Creates an account description.
    public init(
        id: String, passwordHash: String, totp: TOTP? = nil, roles: [String], patientID: String? = nil,
        isDisabled: Bool = false, attributes: [String: String] = [:]
    ) {
        self.id = id
        self.passwordHash = passwordHash
        self.totp = totp
        self.roles = roles
        self.patientID = patientID
        self.isDisabled = isDisabled
        self.attributes = attributes
    }
}

/// A reference account directory's failure. Descriptions name the failure, never a login name,
/// account id or hash.
public enum AccountDirectoryError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The backend could not be reached or failed; the payload is the underlying error's type name.
    case unavailable(String)
    /// A stored row could not be read back (the payload names the column).
    case corruptRecord(String)
    /// A stored row failed its seal check (edited without the ``RowSealingKey``): refused.
    case tampered(TamperedRowError)
    /// No account has the id given to an administrative operation.
    case unknownAccount
    /// The stored TOTP secret could not be encrypted or decrypted (the payload names the failure).
    case secretUnavailable(String)

    /// A description without identifiers.
    public var description: String {
        switch self {
        case .unavailable(let type): "account directory unavailable (\(type))"
        case .corruptRecord(let column): "stored account unreadable (column \(column))"
        case .tampered(let tampered): tampered.description
        case .unknownAccount: "no such account"
        case .secretUnavailable(let reason): "stored TOTP secret unavailable (\(reason))"
        }
    }
}

/// The administrative operations a portal's account pages need, on top of ``AccountDirectory``.
/// The reference directories implement it; each change is re-sealed, and a row that fails its seal
/// check is refused (``AccountDirectoryError/tampered(_:)``) rather than changed. After a change, call
/// `LoginFlow.accountPrivilegesChanged(accountID:current:)` so the account's sessions pick it up.
public protocol AccountAdministration: AccountDirectory {
    /// Replaces the roles of `accountID`.
    func setRoles(_ roles: [String], accountID: String) async throws
    /// Links `accountID` to the patient it *is* (`nil`: no patient).
    func setPatientID(_ patientID: String?, accountID: String) async throws
    /// Disables (or re-enables) `accountID`.
    func setDisabled(_ isDisabled: Bool, accountID: String) async throws
    /// Replaces the subject attributes of `accountID`.
    func setAttributes(_ attributes: [String: String], accountID: String) async throws
    /// Replaces the TOTP authenticator of `accountID` (`nil`: none). Store the secret the way
    /// `createAccount(loginName:passwordHash:totp:)` does (encrypted). Enrol through
    /// `LoginFlow.enrollSecondFactor(_:authenticator:confirmationCode:)`, which checks the session and
    /// a confirmation code first; calling this directly is an administrator's reset.
    func setTOTP(_ totp: TOTP?, accountID: String) async throws
}
