public import Foundation
public import PHIGuardAccess

/// Where a session stands in the sign-in state machine (see <doc:TheLoginFlow>).
///
/// Anonymous visitors have no stored session. The other states are stored, and only
/// ``authenticated`` yields an `AuthenticatedPrincipal`.
public enum SessionState: String, Sendable, Hashable, CaseIterable, Codable {
    /// Filling in the registration form. Reaches nothing but ``LoginFlow/completeRegistration(_:loginName:password:clientAddress:authenticator:confirmationCode:)``.
    case registering
    /// Opened from a password-recovery link. Reaches nothing but setting a new password.
    case recovering
    /// The password was right; the second factor is still due.
    case awaitingSecondFactor = "awaiting-second-factor"
    /// Sign-in completed.
    case authenticated
}

/// One stored session: everything a ``SessionStore`` keeps, none of it secret.
///
/// The session token itself is not here, only its hash. ``handle`` is the session's stable public
/// name (kept across token rotations): it appears in audit records and in the owner's session list.
public struct SessionRecord: Sendable, Hashable {
    /// The hash of the current token (the store's key).
    public var tokenHash: SessionTokenHash
    /// The stable public name of the session (`s-` and 32 hex digits).
    public var handle: String
    /// The state.
    public var state: SessionState
    /// The account, once known (recovering, awaiting the second factor, authenticated).
    public var accountID: String?
    /// The roles recorded at sign-in (authenticated sessions only).
    public var roles: [String]
    /// The patient the account *is*, for portal users (authenticated sessions only).
    public var patientID: String?
    /// How the user signed in (authenticated sessions only).
    public var strength: AuthenticationStrength?
    /// When the session was created.
    public var createdAt: Date
    /// When its use was last recorded (uses within `LoginConfiguration.idleRefreshInterval` of it
    /// are not written).
    public var lastSeenAt: Date
    /// When it ends if unused (moved forward by recorded uses, never past ``absoluteExpiresAt``).
    public var idleExpiresAt: Date
    /// When it ends regardless of use.
    public var absoluteExpiresAt: Date
    /// When the user completed sign-in.
    public var authenticatedAt: Date?
    /// When the user last proved their credentials (sign-in or step-up).
    public var recentlyAuthenticatedAt: Date?
    /// A short label the app supplied (for example "Firefox on Linux"), shown in the session list.
    public var clientLabel: String?
    /// The account's subject attributes recorded at sign-in (authenticated sessions only), for
    /// `equalsSubject` and `attributes: {subject: …}` policy conditions.
    public var attributes: [String: String]
    /// The record's seal: a MAC with the flow's `RowSealingKey` over every field except
    /// ``lastSeenAt`` and ``idleExpiresAt``, bound to ``tokenHash`` (see <doc:SealedAuthorizationData>).
    /// `LoginFlow` computes it; stores keep it as opaque bytes and return it unchanged. A record
    /// without one (`nil`, a row written before sealing) is refused.
    public var seal: [UInt8]?

    /// A record with every field given (for store implementations reading a row).
    public init(
        tokenHash: SessionTokenHash, handle: String, state: SessionState, accountID: String?, roles: [String],
        patientID: String?, strength: AuthenticationStrength?, createdAt: Date, lastSeenAt: Date,
        idleExpiresAt: Date, absoluteExpiresAt: Date, authenticatedAt: Date?, recentlyAuthenticatedAt: Date?,
        clientLabel: String?, attributes: [String: String] = [:], seal: [UInt8]? = nil
    ) {
        self.tokenHash = tokenHash
        self.handle = handle
        self.state = state
        self.accountID = accountID
        self.roles = roles
        self.patientID = patientID
        self.strength = strength
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt
        self.idleExpiresAt = idleExpiresAt
        self.absoluteExpiresAt = absoluteExpiresAt
        self.authenticatedAt = authenticatedAt
        self.recentlyAuthenticatedAt = recentlyAuthenticatedAt
        self.clientLabel = clientLabel
        self.attributes = attributes
        self.seal = seal
    }

    /// Whether the session has ended (idle or absolute limit) at `now`.
    public func isExpired(at now: Date) -> Bool { now >= idleExpiresAt || now >= absoluteExpiresAt }

    /// The earlier of the idle and absolute limits.
    public var expiresAt: Date { min(idleExpiresAt, absoluteExpiresAt) }
}

/// What the owner of a session sees about it in their session list.
public struct SessionSummary: Sendable, Hashable {
    /// The session's public handle (pass it to ``LoginFlow/endSession(handle:of:)``).
    public let handle: String
    /// When the session was created.
    public let createdAt: Date
    /// When its use was last recorded (to within `LoginConfiguration.idleRefreshInterval`).
    public let lastSeenAt: Date
    /// When it ends unless used again (or at its absolute limit).
    public let expiresAt: Date
    /// The label the app supplied at sign-in.
    public let clientLabel: String?
    /// Whether this is the session that asked.
    public let isCurrent: Bool
}
