/// A response header that goes with a ``PublicError``, such as `Retry-After: 30`.
///
/// An HTTP layer copies ``PublicError/headers`` into the response as they are, and never needs to
/// know which error produced them. Values cannot carry internal detail: the only ways to make a
/// header are ``retryAfter(_:)`` (an integer) and the reporter's configured
/// ``ErrorReporter/Configuration/authenticationChallenge`` (the app's own text, cut to one line).
///
/// ```swift
/// let failure = reporter.report(error)
/// var headers = HTTPHeaders([("Content-Type", PublicError.mediaType)])
/// for header in failure.headers { headers.add(name: header.name, value: header.value) }
/// ```
public struct PublicHeader: Sendable, Hashable, CustomStringConvertible {
    /// `Retry-After`.
    public static let retryAfterName = "Retry-After"
    /// `WWW-Authenticate`.
    public static let wwwAuthenticateName = "WWW-Authenticate"

    /// The field name, such as `Retry-After`.
    public let name: String
    /// The field value, such as `30`.
    public let value: String

    init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    /// `Retry-After` with `delay` in whole seconds, rounded up (so a client never retries early);
    /// a zero or negative delay is `0`.
    public static func retryAfter(_ delay: Duration) -> PublicHeader {
        let (seconds, attoseconds) = delay.components
        let whole = delay <= .zero ? 0 : seconds + (attoseconds > 0 ? 1 : 0)
        return PublicHeader(name: retryAfterName, value: String(whole))
    }

    /// `WWW-Authenticate` with `challenge`, kept to at most 200 printable ASCII characters (anything
    /// else is dropped, so no configured value can split the response's header block).
    static func wwwAuthenticate(_ challenge: String) -> PublicHeader {
        let printable = challenge.unicodeScalars.filter { (0x20...0x7E).contains($0.value) }.prefix(200)
        return PublicHeader(name: wwwAuthenticateName, value: String(String.UnicodeScalarView(printable)))
    }

    /// `name: value`.
    public var description: String { "\(name): \(value)" }
}
