public import Logging

/// What a mapping decides about one error: its public face and its internal log detail.
///
/// The public side is a ``PublicProblem`` (literals only) or ``resourceDenied(internalCode:logMessage:context:underlying:)``
/// (rendered 403 or 404 by ``ResourceDenialPolicy``). The log side is an internal code, a message,
/// labelled context and an optional underlying error, which the reporter logs as the next link of
/// the chain.
///
/// - Important: `logMessage` is logged as given (after control characters are removed). Put no
///   secret or PHI value in it; pass such values through `context` as ``ContextValue/secret`` or
///   ``ContextValue/phi`` so they are redacted.
public struct MappedError: Sendable {
    enum Outcome: Sendable, Hashable {
        case problem(PublicProblem)
        case resourceDenied
    }

    let outcome: Outcome
    /// A stable internal code for the log and dashboards, e.g. `password.malformed_hash`. Never shown to users.
    public var internalCode: String
    /// A safe-to-log description of this occurrence.
    public var logMessage: String
    /// Fields that explain this occurrence (redacted per ``ContextValue``).
    public var context: ErrorContext
    /// The error that caused this one, logged as the next link of the chain.
    public var underlying: (any Error)?
    /// The log level; `nil` logs 5xx problems at `.error` and the rest at `.notice`.
    public var logLevel: Logger.Level?
    /// Response headers for this occurrence, such as ``PublicHeader/retryAfter(_:)``. The reporter
    /// adds `WWW-Authenticate` to every 401 itself.
    public var headers: [PublicHeader]

    /// An error that always renders as `problem`.
    public init(
        _ problem: PublicProblem, internalCode: String, logMessage: String, context: ErrorContext = ErrorContext(),
        underlying: (any Error)? = nil, logLevel: Logger.Level? = nil, headers: [PublicHeader] = []
    ) {
        self.init(
            outcome: .problem(problem), internalCode: internalCode, logMessage: logMessage, context: context,
            underlying: underlying, logLevel: logLevel)
        self.headers = headers
    }

    /// A denied access to a resource: 403 ``PublicProblem/accessDenied`` or 404 ``PublicProblem/notFound``,
    /// whichever the reporter's ``ResourceDenialPolicy`` says.
    public static func resourceDenied(
        internalCode: String, logMessage: String, context: ErrorContext = ErrorContext(), underlying: (any Error)? = nil
    ) -> MappedError {
        MappedError(
            outcome: .resourceDenied, internalCode: internalCode, logMessage: logMessage, context: context,
            underlying: underlying, logLevel: nil)
    }

    init(
        outcome: Outcome, internalCode: String, logMessage: String, context: ErrorContext, underlying: (any Error)?,
        logLevel: Logger.Level?
    ) {
        self.outcome = outcome
        self.internalCode = internalCode
        self.logMessage = logMessage
        self.context = context
        self.underlying = underlying
        self.logLevel = logLevel
        self.headers = []
    }

    /// The problem a user sees under `policy`.
    public func publicProblem(under policy: ResourceDenialPolicy) -> PublicProblem {
        switch outcome {
        case .problem(let problem): problem
        case .resourceDenied: policy == .forbidden ? .accessDenied : .notFound
        }
    }

    /// Whether this is a denied resource (whose rendering depends on the ``ResourceDenialPolicy``).
    public var isResourceDenial: Bool { outcome == .resourceDenied }
}

/// How a denied access to an existing resource is shown.
public enum ResourceDenialPolicy: Sendable, Hashable {
    /// 403 ``PublicProblem/accessDenied``: honest, but tells the caller the resource exists.
    case forbidden
    /// 404 ``PublicProblem/notFound``, byte for byte what a missing resource gets, so a caller
    /// cannot probe which record ids exist. The default.
    case notFound
}
