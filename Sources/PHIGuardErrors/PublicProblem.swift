/// The public face of an error: a stable code, an HTTP status and a fixed, safe title and detail.
///
/// Every field comes from a string literal (`StaticString`), so no runtime value — a path, an SQL
/// statement, a patient's name, a password — can ever be interpolated into what a user sees.
/// The catalog below is the complete set PHIGuard's own mappings use; apps may define more.
///
/// ```swift
/// extension PublicProblem {
///     static let appointmentFull = PublicProblem(
///         code: "appointment_full", status: 409, title: "Appointment unavailable",
///         detail: "The appointment slot is no longer available.")
/// }
/// ```
public struct PublicProblem: Sendable, Hashable, CustomStringConvertible {
    /// The stable, machine-readable code (`[a-z0-9_]`, at most 64 characters), e.g. `authentication_failed`.
    public let code: String
    /// The HTTP status (400...599).
    public let status: Int
    /// A short, fixed, human-readable summary.
    public let title: String
    /// A fixed, human-readable explanation. Never specific to one occurrence.
    public let detail: String

    /// Creates a problem from literals.
    ///
    /// Input is normalised rather than rejected, so a typo cannot crash a server: characters outside
    /// `[a-z0-9_]` in `code` become `_` (upper case is lowered, at most 64 characters are kept, an
    /// empty code becomes `internal_error`), a `status` outside 400...599 becomes 500, and control
    /// characters in `title` and `detail` become spaces (the CLI rendering is one line).
    public init(code: StaticString, status: Int, title: StaticString, detail: StaticString) {
        self.code = Self.normalisedCode(code.description)
        self.status = (400...599).contains(status) ? status : 500
        self.title = LogText.singleLine(title.description, limit: 200)
        self.detail = LogText.singleLine(detail.description, limit: 500)
    }

    /// `code (status)`.
    public var description: String { "\(code) (\(status))" }

    private static func normalisedCode(_ text: String) -> String {
        let scalars = text.unicodeScalars.prefix(64).map { scalar -> Character in
            switch scalar {
            case "a"..."z", "0"..."9", "_": Character(scalar)
            case "A"..."Z": Character(String(scalar).lowercased())
            default: "_"
            }
        }
        return scalars.isEmpty ? "internal_error" : String(scalars)
    }
}

// The stable code table. Changing a code, status or message here is a breaking change for clients
// (see the ErrorMapping article); add new problems instead.
extension PublicProblem {
    /// 401 `authentication_failed`: every authentication failure, whatever the internal reason.
    ///
    /// Unknown account, wrong password, locked or disabled account, failed second factor and expired
    /// credentials all look exactly like this, so a response never tells an attacker which it was.
    public static let authenticationFailed = PublicProblem(
        code: "authentication_failed", status: 401, title: "Authentication failed",
        detail: "The credentials could not be verified.")

    /// 403 `access_denied`: an action the caller may not perform (and, with
    /// ``ResourceDenialPolicy/forbidden``, a denied resource).
    public static let accessDenied = PublicProblem(
        code: "access_denied", status: 403, title: "Access denied",
        detail: "You do not have permission to perform this request.")

    /// 403 `break_glass_refused`: the caller may not invoke emergency (break-the-glass) access under
    /// the current policy.
    public static let breakGlassRefused = PublicProblem(
        code: "break_glass_refused", status: 403, title: "Emergency access refused",
        detail: "Emergency access cannot be granted for this request.")

    /// 422 `justification_required`: emergency access was asked for without a usable written
    /// justification (empty, or longer than 2,000 characters).
    public static let justificationRequired = PublicProblem(
        code: "justification_required", status: 422, title: "Justification required",
        detail: "Emergency access needs a written justification of at most 2,000 characters.")

    /// 404 `not_found`: a resource that does not exist (and, with ``ResourceDenialPolicy/notFound``,
    /// a resource the caller may not see).
    public static let notFound = PublicProblem(
        code: "not_found", status: 404, title: "Not found", detail: "The requested resource was not found.")

    /// 409 `conflict`: the request conflicts with what exists (for example, creating a record whose id
    /// is taken).
    public static let conflict = PublicProblem(
        code: "conflict", status: 409, title: "Conflict", detail: "The request conflicts with the current state.")

    /// 400 `invalid_request`: the request is malformed (bad JSON, a missing or mistyped field).
    public static let invalidRequest = PublicProblem(
        code: "invalid_request", status: 400, title: "Invalid request", detail: "The request could not be processed.")

    /// 422 `password_not_accepted`: a new password breaks the password policy (length, blocklist, context words).
    ///
    /// Only outside authentication: during sign-in every failure is ``authenticationFailed``.
    public static let passwordNotAccepted = PublicProblem(
        code: "password_not_accepted", status: 422, title: "Password not accepted",
        detail:
            "The password does not meet the password rules: long enough, not too long, not a common or easily guessed password."
    )

    /// 422 `login_name_not_accepted`: a login name chosen at registration breaks the login-name rules
    /// (invisible characters, inner spaces, letters of mixed scripts). Says nothing about whether the
    /// name is taken: registration answers taken and free names alike.
    public static let loginNameNotAccepted = PublicProblem(
        code: "login_name_not_accepted", status: 422, title: "Login name not accepted",
        detail:
            "The login name does not meet the login-name rules: no spaces inside, no invisible characters, letters of one script."
    )

    /// 429 `rate_limited`: too many requests from this client; retry later (the ``PublicError`` carries
    /// `Retry-After` when the error knows the delay).
    public static let rateLimited = PublicProblem(
        code: "rate_limited", status: 429, title: "Too many requests", detail: "Too many requests. Try again later.")

    /// 503 `service_unavailable`: the server is overloaded or shutting down; retry later.
    public static let serviceUnavailable = PublicProblem(
        code: "service_unavailable", status: 503, title: "Service unavailable",
        detail: "The service is temporarily unavailable. Try again later.")

    /// 500 `internal_error`: everything else, including every error no mapping knows.
    public static let internalError = PublicProblem(
        code: "internal_error", status: 500, title: "Internal error",
        detail: "An internal error occurred. Quote the reference when contacting support.")

    /// Every problem PHIGuard's own mappings can produce (the stable code table).
    public static let catalog: [PublicProblem] = [
        .authenticationFailed, .accessDenied, .breakGlassRefused, .notFound, .conflict, .invalidRequest,
        .passwordNotAccepted,
        .loginNameNotAccepted, .justificationRequired, .rateLimited, .serviceUnavailable, .internalError,
    ]
}
