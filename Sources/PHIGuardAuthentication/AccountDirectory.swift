public import PHIGuardTOTP

/// The app's user accounts, as the sign-in flow needs them. Implement it over your user table.
///
/// PHIGuard never stores accounts itself: it asks the directory for the password hash, the
/// second factor and the roles, and tells it about new accounts and new password hashes.
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

    /// Creates an account description.
    public init(
        id: String, passwordHash: String, totp: TOTP? = nil, roles: [String], patientID: String? = nil,
        isDisabled: Bool = false
    ) {
        self.id = id
        self.passwordHash = passwordHash
        self.totp = totp
        self.roles = roles
        self.patientID = patientID
        self.isDisabled = isDisabled
    }
}
