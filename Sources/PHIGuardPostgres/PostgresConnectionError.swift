/// Why a PostgreSQL connection URL was refused, or why ``PostgresConnectionURL/checkConnection(timeout:logger:)``
/// could not open a session.
///
/// No case carries the URL, the password, a server message or a row: descriptions are safe to log.
/// Parameter names are shown only when they look like parameter names (`a–z 0–9 _`, at most 32).
public enum PostgresConnectionError: Error, Sendable, Hashable, CustomStringConvertible {
    // MARK: Parsing the URL

    /// Not a `postgres://` or `postgresql://` URL with a host and a user name (or it has no host,
    /// several hosts, or a port outside 1–65535).
    case malformedURL
    /// A query parameter other than `sslmode` and `sslrootcert` (which would otherwise be ignored
    /// silently), or one of them given twice. `name` is empty when it does not look like a parameter name.
    case unsupportedParameter(name: String)
    /// `sslmode` is not one of `disable`, `require`, `verify-ca`, `verify-full`. libpq's `allow` and
    /// `prefer` are refused too: they fall back to clear text when the server or an attacker declines TLS.
    case unsupportedSSLMode
    /// The `sslrootcert` file could not be read or holds no PEM certificate.
    case unreadableRootCertificate(path: String)

    // MARK: Connecting

    /// The TLS handshake failed: the server's certificate does not chain to the trusted roots, does not
    /// name the host (`verify-full`), or the server does not speak TLS properly.
    case tlsHandshakeFailed
    /// The server does not accept TLS connections at all.
    case tlsUnsupportedByServer
    /// The server refused the session before authentication: no `pg_hba.conf` entry matches the user,
    /// database, address and encryption (for example `sslmode=disable` against a `hostssl`-only server).
    case refusedByServer
    /// The password (or another credential) was refused, or the server wants a password the URL lacks.
    case authenticationFailed
    /// No connection could be made to the host and port (name resolution, refused, unreachable).
    case unreachable
    /// The check did not finish within its timeout.
    case timedOut
    /// Another failure; the payload is the underlying error's type name only.
    case failed(String)

    /// A fixed text for the case; never the URL, a password or a server message.
    public var description: String {
        switch self {
        case .malformedURL:
            "not a PostgreSQL URL of the form postgres://user[:password]@host[:port]/database[?sslmode=…]"
        case .unsupportedParameter(let name):
            name.isEmpty
                ? "unsupported or repeated URL parameter (only sslmode and sslrootcert, once each)"
                : "unsupported or repeated URL parameter '\(name)' (only sslmode and sslrootcert, once each)"
        case .unsupportedSSLMode:
            "unsupported sslmode: use disable, require, verify-ca or verify-full (allow and prefer can fall back to clear text)"
        case .unreadableRootCertificate(let path):
            "sslrootcert '\(path)' is not a readable PEM certificate file"
        case .tlsHandshakeFailed:
            "TLS handshake with the PostgreSQL server failed (certificate not trusted or not for this host)"
        case .tlsUnsupportedByServer: "the PostgreSQL server does not accept TLS connections"
        case .refusedByServer:
            "the PostgreSQL server refused the connection (no pg_hba.conf entry for this user, database and sslmode)"
        case .authenticationFailed: "PostgreSQL authentication failed"
        case .unreachable: "the PostgreSQL server could not be reached"
        case .timedOut: "the PostgreSQL connection check timed out"
        case .failed(let type): "the PostgreSQL connection check failed (\(type))"
        }
    }

    /// `name` if it looks like a URL parameter name, else empty (it might be a pasted secret).
    static func printableName(_ name: String) -> String {
        let bytes = name.utf8
        let printable =
            (1...32).contains(bytes.count)
            && bytes.allSatisfy { (97...122).contains($0) || (48...57).contains($0) || $0 == 95 }
        return printable ? name : ""
    }
}
