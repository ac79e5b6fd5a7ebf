/// Lifetimes and rules of the sign-in flow. The defaults follow NIST SP 800-63B at AAL2.
public struct LoginConfiguration: Sendable, Hashable {
    /// The longest absolute lifetime allowed: 12 hours (SP 800-63B §7.2 at AAL2).
    public static let maximumAbsoluteLifetime = Duration.seconds(12 * 3600)

    /// How long an authenticated session lives without use (default 15 minutes).
    public var idleTimeout: Duration
    /// How long an authenticated session lives at most, used or not (default 8 hours, at most 12).
    public var absoluteLifetime: Duration
    /// How long a session waits for the second factor after the password (default 5 minutes).
    public var secondFactorTimeout: Duration
    /// How long a registration session lives (default 30 minutes).
    public var registrationLifetime: Duration
    /// How long a password-recovery link works (default 30 minutes).
    public var recoveryLifetime: Duration
    /// Whether every account must complete a second factor (default `true`). When `false`, accounts
    /// without an enrolled authenticator sign in with the password alone (single-factor strength).
    public var requireSecondFactor: Bool
    /// How long after a session's last *recorded* use a new use is written to the session store again
    /// (its `lastSeenAt` set and its idle limit moved forward); `nil` (the default) means
    /// ``defaultIdleRefreshInterval(for:)``: 60 seconds, or a tenth of ``idleTimeout`` if that is shorter.
    ///
    /// Without it every authenticated request is a durable write (with SQLite, an fsync'd commit on
    /// the store's one connection). With an interval `N`, a request within `N` of the last recorded use
    /// only reads. The idle limit stays exact to within `N`, and only on the safe side: a session
    /// unused for ``idleTimeout`` always ends; one whose uses are less than `idleTimeout − N` apart
    /// always lives on (to its absolute limit); in between, a session may end up to `N` early, never
    /// late. `.zero` writes on every use. At most half of ``idleTimeout``.
    public var idleRefreshInterval: Duration?

    /// A configuration; ``validate()`` runs when a ``LoginFlow`` is made.
    public init(
        idleTimeout: Duration = .seconds(15 * 60), absoluteLifetime: Duration = .seconds(8 * 3600),
        secondFactorTimeout: Duration = .seconds(5 * 60), registrationLifetime: Duration = .seconds(30 * 60),
        recoveryLifetime: Duration = .seconds(30 * 60), requireSecondFactor: Bool = true,
        idleRefreshInterval: Duration? = nil
    ) {
        self.idleTimeout = idleTimeout
        self.absoluteLifetime = absoluteLifetime
        self.secondFactorTimeout = secondFactorTimeout
        self.registrationLifetime = registrationLifetime
        self.recoveryLifetime = recoveryLifetime
        self.requireSecondFactor = requireSecondFactor
        self.idleRefreshInterval = idleRefreshInterval
    }

    /// The default ``idleRefreshInterval``: 60 seconds, or a tenth of `idleTimeout` if that is shorter.
    public static func defaultIdleRefreshInterval(for idleTimeout: Duration) -> Duration {
        min(.seconds(60), idleTimeout / 10)
    }

    /// The interval in force: ``idleRefreshInterval``, or ``defaultIdleRefreshInterval(for:)``.
    public var effectiveIdleRefreshInterval: Duration {
        idleRefreshInterval ?? Self.defaultIdleRefreshInterval(for: idleTimeout)
    }

    /// Throws ``LoginConfigurationError`` for a lifetime that is not positive, an absolute lifetime
    /// over 12 hours, an idle timeout longer than the absolute lifetime, or an
    /// ``idleRefreshInterval`` that is negative or longer than half the idle timeout.
    public func validate() throws(LoginConfigurationError) {
        for (name, value) in [
            ("idleTimeout", idleTimeout), ("absoluteLifetime", absoluteLifetime),
            ("secondFactorTimeout", secondFactorTimeout), ("registrationLifetime", registrationLifetime),
            ("recoveryLifetime", recoveryLifetime),
        ] where value <= .zero {
            throw .notPositive(name)
        }
        guard absoluteLifetime <= Self.maximumAbsoluteLifetime else { throw .absoluteLifetimeOverTwelveHours }
        guard idleTimeout <= absoluteLifetime else { throw .idleTimeoutExceedsAbsoluteLifetime }
        if let idleRefreshInterval, idleRefreshInterval < .zero || idleRefreshInterval > idleTimeout / 2 {
            throw .idleRefreshIntervalOutOfRange
        }
    }
}

/// Why a ``LoginConfiguration`` was refused.
public enum LoginConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The named lifetime is zero or negative.
    case notPositive(String)
    /// The absolute lifetime is over 12 hours (NIST SP 800-63B AAL2 forbids it).
    case absoluteLifetimeOverTwelveHours
    /// The idle timeout is longer than the absolute lifetime.
    case idleTimeoutExceedsAbsoluteLifetime
    /// The default in-memory rate limiter could not be made.
    case invalidRateLimiter(String)
    /// The session store outlives the process (it is not an ``InMemorySessionStore``) but no
    /// ``RowSealingKey`` was given: a per-process key would refuse every stored session after a
    /// restart and on every other instance, so the flow refuses to start instead.
    case sealingKeyRequired
    /// A per-process ``RowSealingKey`` could not be generated.
    case invalidSealingKey(String)
    /// ``LoginConfiguration/idleRefreshInterval`` is negative or longer than half the idle timeout
    /// (a session used regularly could then end while in use).
    case idleRefreshIntervalOutOfRange

    /// What is wrong.
    public var description: String {
        switch self {
        case .notPositive(let name): "\(name) must be positive"
        case .absoluteLifetimeOverTwelveHours: "absoluteLifetime must not exceed 12 hours (NIST SP 800-63B AAL2)"
        case .idleTimeoutExceedsAbsoluteLifetime: "idleTimeout must not exceed absoluteLifetime"
        case .invalidRateLimiter(let reason): "rate limiter: \(reason)"
        case .sealingKeyRequired: "a RowSealingKey is required for a session store that outlives the process"
        case .invalidSealingKey(let reason): "sealing key: \(reason)"
        case .idleRefreshIntervalOutOfRange: "idleRefreshInterval must be between zero and half of idleTimeout"
        }
    }
}
