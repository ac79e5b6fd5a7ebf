public import Foundation
internal import PHIGuardCrypto

/// How strongly a principal proved who they are.
public enum AuthenticationStrength: String, Sendable, Hashable, Comparable, Codable {
    /// A password (or another single factor) only.
    case singleFactor = "single-factor"
    /// A password and a second factor (TOTP or a recovery code): NIST SP 800-63B AAL2.
    case multiFactor = "multi-factor"

    /// `singleFactor < multiFactor`.
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs == .singleFactor && rhs == .multiFactor }
}

/// A user who has completed a full sign-in: the only kind of caller ``AccessEngine`` decides for.
///
/// There is no public initializer. Only `PHIGuardAuthentication`'s `LoginFlow` makes principals, and
/// only when a session reaches the authenticated state (password, then the second factor when
/// required). A session that is registering, recovering a password or waiting for its second factor
/// has no principal, so code that tries to pass one to a PHI read does not compile — the fix for
/// OpenEMR CVE-2018-15152, where the registration page set the same flags a completed login sets.
///
/// A principal is a snapshot taken when the session was resumed for one request; it carries the
/// time the session's idle or absolute lifetime ends, and the engine refuses it after that
/// (defence in depth, should a principal be kept around longer than its request).
public final class AuthenticatedPrincipal: Sendable, CustomStringConvertible {
    /// The user, with the roles and patient id recorded at sign-in.
    public let subject: Subject
    /// The session's public handle (safe to log and to show to its owner; never the session token).
    public let sessionHandle: String
    /// When the user completed sign-in.
    public let authenticatedAt: Date
    /// When the user last proved their credentials (sign-in or the latest step-up).
    public let recentlyAuthenticatedAt: Date
    /// How the user signed in.
    public let strength: AuthenticationStrength
    /// The moment this principal stops being honoured (the session's idle or absolute limit).
    public let validUntil: Date
    private let cache: PreparedSubjectCache

    /// Made by the authentication module only (package access): applications cannot mint principals.
    package init(
        subject: Subject, sessionHandle: String, authenticatedAt: Date, recentlyAuthenticatedAt: Date,
        strength: AuthenticationStrength, validUntil: Date
    ) {
        self.subject = subject
        self.sessionHandle = sessionHandle
        self.authenticatedAt = authenticatedAt
        self.recentlyAuthenticatedAt = recentlyAuthenticatedAt
        self.strength = strength
        self.validUntil = validUntil
        self.cache = PreparedSubjectCache()
    }

    /// Whether the user proved their credentials within `window` before `now` (for step-up checks).
    public func isRecentlyAuthenticated(within window: Duration, at now: Date) -> Bool {
        now.timeIntervalSince(recentlyAuthenticatedAt) <= window.seconds && now >= recentlyAuthenticatedAt
    }

    /// The user id and session handle only.
    public var description: String { "AuthenticatedPrincipal(\(subject.id), session \(sessionHandle))" }

    /// The subject prepared for `policy`, computed once per policy generation.
    func prepared(for policy: CompiledPolicy) -> PreparedSubject {
        cache.prepared(for: policy, subject: subject)
    }
}

/// The prepared subject of one principal under the latest policy it was used with.
private final class PreparedSubjectCache: @unchecked Sendable {
    // @unchecked Sendable: `value` is behind PHIGuard's lock (`Locked`, which ThreadSanitizer sees).
    private let value = Locked<PreparedSubject?>(nil)

    func prepared(for policy: CompiledPolicy, subject: Subject) -> PreparedSubject {
        value.withLock { value in
            if let value, value.generation == policy.generation { return value }
            let fresh = policy.prepare(subject)
            value = fresh
            return fresh
        }
    }
}
