public import PHIGuardErrors
public import PHIGuardKeys

/// The portal's own failures. Each maps to a fixed public problem (one line and a reference through
/// `ErrorReporter`); the detail goes to the log only. Failures of PHIGuard's components (sign-in,
/// records, break-glass) are thrown as they are: PHIGuardErrors maps them the same way.
public enum PortalError: Error, Sendable, Hashable, PublicErrorMappable {
    /// The database or the key directory does not exist yet.
    case notInitialized
    /// `init` found an existing database or key.
    case alreadyInitialized
    /// No authenticated session (no token, an ended one, or one without a principal).
    case notSignedIn
    /// An expected input line was missing or not UTF-8.
    case missingInput
    /// A key file or the key directory failed its checks (the error names the file and the problem).
    case keys(KeyError)
    /// The session file is a link, not a regular file, or accessible by others.
    case sessionFileUnusable
    /// `totp-code` was asked for an account the seed did not make.
    case notADemoAccount
    /// The demo code helper's next code is not valid yet.
    case codeNotReady
    /// A request value is not acceptable (an unknown chart field, a bad date, an empty search).
    case invalidInput(String)
    /// The signed-in user's roles do not allow this portal operation (staff administration,
    /// break-glass review); audited by the component that refused it where there is one.
    case notPermitted(String)
    /// The named account does not exist (staff administration only: an admin may know).
    case unknownAccount

    /// The fixed public problem, the internal code and the log line.
    public var errorMapping: MappedError {
        switch self {
        case .notInitialized:
            MappedError(
                .portalNotInitialized, internalCode: "portal.not_initialized", logMessage: "database or keys missing")
        case .alreadyInitialized:
            MappedError(.portalAlreadyInitialized, internalCode: "portal.exists", logMessage: "refusing to overwrite")
        case .notSignedIn:
            MappedError(
                .authenticationFailed, internalCode: "portal.no_principal", logMessage: "no authenticated session")
        case .missingInput:
            MappedError(
                .invalidRequest, internalCode: "portal.missing_input", logMessage: "expected input line missing")
        case .keys(let error):
            MappedError(
                .portalKeysRefused, internalCode: "portal.keys", logMessage: "key directory refused",
                context: ["key_file": .value(error.subject), "problem": .value(error.problem)])
        case .sessionFileUnusable:
            MappedError(.internalError, internalCode: "portal.session_file", logMessage: "session file unusable")
        case .notADemoAccount:
            .resourceDenied(internalCode: "portal.not_demo", logMessage: "totp-code asked for a non-demo account")
        case .codeNotReady:
            MappedError(.rateLimited, internalCode: "portal.code_used", logMessage: "next demo code not yet valid")
        case .invalidInput(let what):
            MappedError(
                .invalidRequest, internalCode: "portal.invalid_input", logMessage: "request value refused",
                context: ["what": .value(what)])
        case .notPermitted(let operation):
            .resourceDenied(
                internalCode: "portal.not_permitted", logMessage: "operation not permitted for these roles",
                context: ["operation": .value(operation)])
        case .unknownAccount:
            MappedError(
                .portalUnknownAccount, internalCode: "portal.unknown_account", logMessage: "no such account")
        }
    }
}

extension PortalError {
    /// The portal's error for a key refusal: a missing key directory means the portal is not set up,
    /// a key file already in place means it is; anything else names the file and the problem.
    public init(_ error: KeyError) {
        switch error {
        case .directoryMissing: self = .notInitialized
        case .exists: self = .alreadyInitialized
        default: self = .keys(error)
        }
    }
}

extension PublicProblem {
    /// 503: a key file or the key directory failed its checks (owner, mode, symbolic link, contents).
    public static let portalKeysRefused = PublicProblem(
        code: "keys_refused", status: 503, title: "Key directory refused",
        detail: "A key file or the key directory failed its checks; the line above names it and the fix.")
    /// 503: the portal has no database or keys yet.
    public static let portalNotInitialized = PublicProblem(
        code: "not_initialized", status: 503, title: "Portal not set up",
        detail: "Run `PatientPortal init` first (with the same --database and --keys).")
    /// 409: `init` found an existing database or key.
    public static let portalAlreadyInitialized = PublicProblem(
        code: "already_initialized", status: 409, title: "Already set up",
        detail: "The database or a key exists already; nothing was changed.")
    /// 404: staff administration named an account that does not exist.
    public static let portalUnknownAccount = PublicProblem(
        code: "unknown_account", status: 404, title: "No such account",
        detail: "No account has that login name.")
}
