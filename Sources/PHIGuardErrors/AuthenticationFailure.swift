/// A failed sign-in, with the internal reason that only the log sees.
///
/// Every reason renders as the same ``PublicProblem/authenticationFailed``: users (and attackers)
/// never learn whether the account exists, is locked, or the second factor was wrong.
///
/// ```swift
/// guard let account = try await accounts.find(username) else {
///     _ = await hasher.verifyUnknownAccount(password)      // same time as a real verify
///     throw AuthenticationFailure(.unknownAccount)
/// }
/// ```
public struct AuthenticationFailure: Error, Sendable, CustomStringConvertible {
    /// Why authentication failed. Logged and counted, never shown.
    public enum Reason: String, Sendable, Hashable, CaseIterable {
        /// No account has this name.
        case unknownAccount = "unknown_account"
        /// The password did not match.
        case wrongPassword = "wrong_password"
        /// The account is locked after too many failures.
        case accountLocked = "account_locked"
        /// The account is disabled.
        case accountDisabled = "account_disabled"
        /// A second factor is required and was not given.
        case secondFactorRequired = "second_factor_required"
        /// The second factor (TOTP code, recovery code) was wrong or replayed.
        case secondFactorFailed = "second_factor_failed"
        /// The password or credential has expired.
        case credentialsExpired = "credentials_expired"
        /// The session or token is missing, expired or revoked.
        case sessionInvalid = "session_invalid"
        /// The credentials could not be parsed (empty, too long, not UTF-8).
        case malformedCredentials = "malformed_credentials"
    }

    /// The internal reason.
    public var reason: Reason
    /// The error that caused it, if any (logged as the next link of the chain).
    public var underlying: (any Error)?

    /// A failure for `reason`.
    public init(_ reason: Reason, underlying: (any Error)? = nil) {
        self.reason = reason
        self.underlying = underlying
    }

    /// `authentication failed: <reason>` (internal; safe to log).
    public var description: String { "authentication failed: \(reason.rawValue)" }
}

/// A denied access decision.
///
/// A denied resource renders as 403 or 404 by the reporter's ``ResourceDenialPolicy``; a denied
/// action (not tied to one resource) is always 403. Type and id are identifiers and are logged;
/// never put a PHI value (a name, a note's text) in them.
public struct AccessDenial: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was denied.
    public enum Target: Sendable, Hashable {
        /// A resource, such as `Patient` `p-1042`.
        case resource(type: String, id: String?)
        /// An action not tied to one resource, such as `policy.reload`.
        case action(String)
    }

    /// What was denied.
    public var target: Target
    /// The ids of the rules that decided (logged).
    public var decidingRules: [String]

    /// A denied resource.
    public init(resourceType: String, id: String? = nil, decidingRules: [String] = []) {
        target = .resource(type: resourceType, id: id)
        self.decidingRules = decidingRules
    }

    /// A denied action.
    public init(action: String, decidingRules: [String] = []) {
        target = .action(action)
        self.decidingRules = decidingRules
    }

    /// `access denied to <type> <id>` or `access denied: <action>` (internal; identifiers only).
    public var description: String {
        switch target {
        case .resource(let type, let id): "access denied to \(type)" + (id.map { " \($0)" } ?? "")
        case .action(let action): "access denied: \(action)"
        }
    }
}

/// A resource that does not exist. Renders as 404 ``PublicProblem/notFound``, exactly like a
/// denied resource under ``ResourceDenialPolicy/notFound``.
public struct ResourceNotFound: Error, Sendable, Hashable, CustomStringConvertible {
    /// The resource type, such as `Patient`.
    public var resourceType: String
    /// The id that was asked for, if any.
    public var id: String?

    /// A missing resource.
    public init(resourceType: String, id: String? = nil) {
        self.resourceType = resourceType
        self.id = id
    }

    /// `<type> <id> not found` (internal; identifiers only).
    public var description: String { "\(resourceType)" + (id.map { " \($0)" } ?? "") + " not found" }
}
