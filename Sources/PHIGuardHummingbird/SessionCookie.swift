public import Hummingbird

/// The session cookie: always `__Host-` prefixed, `Secure`, `HttpOnly`, `SameSite=Strict`,
/// `Path=/`, no `Domain`, and no `Expires`/`Max-Age` (the session's idle and absolute limits are
/// the library's, checked on the server at every request; the browser forgets the cookie when it closes).
///
/// Only the name after the prefix can be chosen, so no configuration can make the cookie readable
/// by scripts, send it over plain HTTP, widen it to other hosts or send it on cross-site requests.
public struct SessionCookie: Sendable, Hashable {
    /// The prefix that makes browsers refuse the cookie unless it is `Secure`, `Path=/` and host-only.
    public static let prefix = "__Host-"

    /// The full cookie name, `__Host-` followed by the chosen name.
    public let name: String

    /// A cookie named `__Host-<suffix>`; `suffix` is reduced to letters, digits, `-` and `_`
    /// (at most 64; an empty result becomes `phiguard-session`).
    public init(suffix: String = "phiguard-session") {
        let kept = suffix.unicodeScalars.filter { scalar in
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", "-", "_": true
            default: false
            }
        }.prefix(64)
        let cleaned = String(String.UnicodeScalarView(kept))
        name = Self.prefix + (cleaned.isEmpty ? "phiguard-session" : cleaned)
    }

    /// The cookie that carries `value` (a `SessionToken`'s cookie value).
    public func setting(_ value: String) -> Cookie {
        Cookie(name: name, value: value, path: "/", secure: true, httpOnly: true, sameSite: .strict)
    }

    /// The cookie that makes the browser delete the session cookie (empty value, `Max-Age=0`).
    public func clearing() -> Cookie {
        Cookie(name: name, value: "", maxAge: 0, path: "/", secure: true, httpOnly: true, sameSite: .strict)
    }

    /// The value of this cookie in `request`, if it has one.
    public func value(in request: Request) -> String? {
        request.cookies[name]?.value
    }
}
