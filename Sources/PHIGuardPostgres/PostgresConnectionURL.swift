internal import Foundation
public import Logging
internal import NIOSSL
public import PostgresNIO

/// A `postgres://` connection URL read the way libpq reads `sslmode` and `sslrootcert`, turned into
/// a `PostgresClient.Configuration` for the stores in this module. The application creates and runs
/// the `PostgresClient` (it owns pooling and TLS); this type is only the convenience that builds the
/// configuration, and it verifies the server by default.
///
/// ```swift
/// // postgres://portal@db.internal:5432/portal?sslmode=verify-full&sslrootcert=/etc/portal/db-ca.pem
/// let url = try PostgresConnectionURL(environment["PORTAL_DATABASE_URL"] ?? "")
/// try await url.checkConnection()                    // optional: fail fast on a TLS or pg_hba mistake
/// let client = PostgresClient(configuration: url.clientConfiguration(), backgroundLogger: logger)
/// Task { await client.run() }
/// let sessions = PostgresSessionStore(client: client)
/// ```
///
/// | `sslmode` | Encrypted | Certificate chain checked | Host name checked |
/// | --- | --- | --- | --- |
/// | `verify-full` (the default) | yes | yes | yes |
/// | `verify-ca` | yes | yes | no |
/// | `require` | yes | only with `sslrootcert` (as libpq) | no |
/// | `disable` | no | no | no |
///
/// `sslrootcert=/path/ca.pem` names the PEM file of the CA certificates to trust; without it the
/// system's trust store is used. (libpq's default is `prefer`, which falls back to clear text, and its
/// default root file is `~/.postgresql/root.crt`; neither is followed here.) `allow`, `prefer` and any
/// other parameter are refused rather than ignored. With `verify-full` the host in the URL must be
/// named by the certificate: a DNS name in its subject alternative names, or, when the URL's host is
/// an IP address, that address.
///
/// The URL may hold a password: read it from the environment or a file, never from a command line.
/// The password is never part of ``description``, a mirror or an error.
public struct PostgresConnectionURL: Sendable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// libpq's `sslmode` values that PHIGuard accepts.
    public enum SSLMode: String, Sendable, Hashable, CaseIterable {
        /// No TLS: only for a socket that cannot be observed (PHI and audit records cross in clear).
        case disable
        /// TLS, with the certificate chain checked only when `sslrootcert` is given (as libpq does).
        case require
        /// TLS; the certificate must chain to a trusted root; the host name is not checked.
        case verifyCA = "verify-ca"
        /// TLS; the certificate must chain to a trusted root and name the host. The default.
        case verifyFull = "verify-full"
    }

    /// The host name or IP address.
    public let host: String
    /// The TCP port (5432 when the URL has none).
    public let port: Int
    /// The user name.
    public let username: String
    /// The database (`nil`: the server's default, the user name).
    public package(set) var database: String?
    /// The TLS mode (``SSLMode/verifyFull`` when the URL has no `sslmode`).
    public let sslMode: SSLMode
    /// The `sslrootcert` path, if the URL has one.
    public let rootCertificatePath: String?
    let password: String?
    /// `nil` only for ``SSLMode/disable``.
    private let tls: TLSConfiguration?

    /// Parses `url` (`postgres://` or `postgresql://`, user name and host required) and, when it names
    /// one, reads the `sslrootcert` file now, so a missing CA file is reported here rather than at the
    /// first query.
    public init(_ url: String) throws(PostgresConnectionError) {
        guard let components = URLComponents(string: url),
            let scheme = components.scheme?.lowercased(), scheme == "postgres" || scheme == "postgresql",
            var host = components.host, !host.isEmpty, !host.contains(","),
            let username = components.user, !username.isEmpty
        else { throw .malformedURL }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let port = components.port ?? 5432
        guard (1...65535).contains(port) else { throw .malformedURL }

        var parameters: [String: String] = [:]
        for item in components.queryItems ?? [] {
            guard item.name == "sslmode" || item.name == "sslrootcert", parameters[item.name] == nil,
                let value = item.value
            else { throw .unsupportedParameter(name: PostgresConnectionError.printableName(item.name)) }
            parameters[item.name] = value
        }
        let sslMode: SSLMode
        if let value = parameters["sslmode"] {
            guard let mode = SSLMode(rawValue: value) else { throw .unsupportedSSLMode }
            sslMode = mode
        } else {
            sslMode = .verifyFull
        }
        let rootCertificatePath = parameters["sslrootcert"]

        self.host = host
        self.port = port
        self.username = username
        self.password = components.password
        let path = components.path
        self.database = path.isEmpty || path == "/" ? nil : String(path.dropFirst())
        self.sslMode = sslMode
        self.rootCertificatePath = rootCertificatePath
        self.tls = try Self.tlsConfiguration(sslMode, rootCertificatePath: rootCertificatePath)
    }

    /// The NIOSSL client configuration for `mode`: TLS 1.2 or later, verification as the table above says.
    private static func tlsConfiguration(
        _ mode: SSLMode, rootCertificatePath: String?
    ) throws(PostgresConnectionError) -> TLSConfiguration? {
        guard mode != .disable else { return nil }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let rootCertificatePath {
            let certificates: [NIOSSLCertificate]
            do {
                certificates = try NIOSSLCertificate.fromPEMFile(rootCertificatePath)
            } catch {
                throw .unreadableRootCertificate(path: rootCertificatePath)
            }
            guard !certificates.isEmpty else { throw .unreadableRootCertificate(path: rootCertificatePath) }
            tls.trustRoots = .certificates(certificates)
        }
        switch mode {
        case .verifyFull: tls.certificateVerification = .fullVerification
        case .verifyCA: tls.certificateVerification = .noHostnameVerification
        case .require:
            // libpq: with a root certificate, `require` behaves as `verify-ca`.
            tls.certificateVerification = rootCertificatePath == nil ? .none : .noHostnameVerification
        case .disable: return nil
        }
        return tls
    }

    /// A configuration for `PostgresClient(configuration:backgroundLogger:)` with this URL's host,
    /// credentials and TLS (`.require`, so a server without TLS is refused). Adjust its `options`
    /// (pool size, timeouts) before creating the client.
    public func clientConfiguration() -> PostgresClient.Configuration {
        var mode = PostgresClient.Configuration.TLS.disable
        if let tls { mode = .require(tls) }
        return PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: mode)
    }

    /// Opens one session with this URL (outside any pool), runs `SELECT 1` and closes it, so a
    /// misconfiguration is reported at start-up as a typed error. A `PostgresClient` instead retries
    /// failed connections in the background, and its queries wait (the stores fail after their
    /// `timeout`, without the reason).
    public func checkConnection(
        timeout: Duration = .seconds(10), logger: Logger = Logger(label: "phiguard.postgres.connection")
    ) async throws(PostgresConnectionError) {
        var mode = PostgresConnection.Configuration.TLS.disable
        if let tls {
            do {
                mode = .require(try NIOSSLContext(configuration: tls))
            } catch {
                throw .failed("NIOSSLContext")
            }
        }
        let configuration = PostgresConnection.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: mode)
        do {
            try await withDeadline(timeout) {
                let connection = try await PostgresConnection.connect(
                    configuration: configuration, id: 0, logger: logger)
                do {
                    try await connection.query("SELECT 1", logger: logger)
                } catch {
                    try? await connection.close()
                    throw error
                }
                try await connection.close()
            }
        } catch {
            throw Self.classify(error)
        }
    }

    /// The one place connection failures become ``PostgresConnectionError`` cases.
    private static func classify(_ error: any Error) -> PostgresConnectionError {
        if error is DeadlineExceeded { return .timedOut }
        guard let error = error as? PSQLError else { return .failed(String(describing: type(of: error))) }
        if let underlying = error.underlying,
            underlying is NIOSSLError || underlying is NIOSSLExtraError || underlying is BoringSSLError
        {
            return .tlsHandshakeFailed
        }
        switch error.code {
        case .sslUnsupported: return .tlsUnsupportedByServer
        case .failedToAddSSLHandler, .receivedUnencryptedDataAfterSSLRequest: return .tlsHandshakeFailed
        case .authMechanismRequiresPassword, .unsupportedAuthMechanism, .saslError: return .authenticationFailed
        case .connectionError: return .unreachable
        case .server:
            switch error.serverInfo?[.sqlState] {
            case "28000": return .refusedByServer  // invalid_authorization_specification: no pg_hba.conf entry
            case "28P01": return .authenticationFailed  // invalid_password
            default: return .failed("PSQLError.server")
            }
        default: return .failed("PSQLError")
        }
    }

    /// The URL without its password, e.g. `postgres://portal@db.internal:5432/portal?sslmode=verify-full`.
    public var description: String {
        var text = "postgres://\(username)@\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database ?? "")"
        text += "?sslmode=\(sslMode.rawValue)"
        if let rootCertificatePath { text += "&sslrootcert=\(rootCertificatePath)" }
        return text
    }

    /// The same as ``description``: without the password.
    public var debugDescription: String { description }

    /// A mirror without the password (for `dump` and debuggers).
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "host": host, "port": port, "username": username, "database": database as Any,
                "sslMode": sslMode, "rootCertificatePath": rootCertificatePath as Any,
            ], displayStyle: .struct)
    }
}
