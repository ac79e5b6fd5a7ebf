import Foundation
import PHIGuardPostgres
import PostgresNIO
import Testing

/// Parsing only: no server needed. A CA file is written to a temporary directory where one is read.
@Suite("PostgreSQL connection URL")
struct PostgresConnectionURLTests {
    static let password = "pa55-W0rd-never-shown"

    /// A throwaway PEM file: the certificate of a fixed test CA (public data, not a secret).
    static func caFile() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("phiguard-url-\(UUID()).pem").path
        try Self.caPEM.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("Host, port, user, password and database; verify-full when sslmode is absent")
    func defaults() throws {
        let url = try PostgresConnectionURL("postgres://portal:\(Self.password)@db.internal/portal")
        #expect(url.host == "db.internal")
        #expect(url.port == 5432)
        #expect(url.username == "portal")
        #expect(url.database == "portal")
        #expect(url.sslMode == .verifyFull)
        #expect(url.rootCertificatePath == nil)
        let configuration = url.clientConfiguration()
        #expect(configuration.host == "db.internal")
        #expect(configuration.port == 5432)
        #expect(configuration.password == Self.password)
        #expect(configuration.database == "portal")

        let other = try PostgresConnectionURL("postgresql://a%40b@[::1]:6543")
        #expect(other.username == "a@b")
        #expect(other.host == "::1")
        #expect(other.port == 6543)
        #expect(other.database == nil)
    }

    @Test("Every sslmode is accepted, with or without sslrootcert", arguments: PostgresConnectionURL.SSLMode.allCases)
    func everySSLMode(_ mode: PostgresConnectionURL.SSLMode) throws {
        let ca = try Self.caFile()
        defer { try? FileManager.default.removeItem(atPath: ca) }
        let plain = try PostgresConnectionURL("postgres://u@h/d?sslmode=\(mode.rawValue)")
        #expect(plain.sslMode == mode)
        let rooted = try PostgresConnectionURL("postgres://u@h/d?sslmode=\(mode.rawValue)&sslrootcert=\(ca)")
        #expect(rooted.sslMode == mode)
        #expect(rooted.rootCertificatePath == ca)
        #expect(rooted.description == "postgres://u@h:5432/d?sslmode=\(mode.rawValue)&sslrootcert=\(ca)")
    }

    @Test(
        "Unknown, missing and insecure sslmode values are refused",
        arguments: ["prefer", "allow", "VERIFY-FULL", "verify_full", "", "on", Self.password])
    func unknownSSLMode(_ value: String) {
        #expect(throws: PostgresConnectionError.unsupportedSSLMode) {
            try PostgresConnectionURL("postgres://u:\(Self.password)@h/d?sslmode=\(value)")
        }
    }

    @Test("A parameter without a value, repeated, or unknown is refused rather than ignored")
    func unsupportedParameters() {
        #expect(throws: PostgresConnectionError.unsupportedParameter(name: "sslmode")) {
            try PostgresConnectionURL("postgres://u@h/d?sslmode")
        }
        #expect(throws: PostgresConnectionError.unsupportedParameter(name: "sslmode")) {
            try PostgresConnectionURL("postgres://u@h/d?sslmode=require&sslmode=disable")
        }
        #expect(throws: PostgresConnectionError.unsupportedParameter(name: "sslcert")) {
            try PostgresConnectionURL("postgres://u@h/d?sslcert=/client.pem")
        }
        // A name that could be a pasted secret is not echoed.
        #expect(throws: PostgresConnectionError.unsupportedParameter(name: "")) {
            try PostgresConnectionURL("postgres://u@h/d?\(Self.password)=1")
        }
    }

    @Test(
        "Malformed URLs are refused",
        arguments: [
            "", "not a url", "http://u@h/d", "postgres://h/d", "postgres://u@/d", "postgres:///d",
            "postgres://u@h1,h2/d", "postgres://u@h:0/d", "postgres://u@h:70000/d", "mysql://u:p@h/d",
        ])
    func malformed(_ text: String) {
        #expect(throws: PostgresConnectionError.malformedURL) { try PostgresConnectionURL(text) }
    }

    @Test("A missing or empty sslrootcert file is a typed error naming the path")
    func unreadableRootCertificate() throws {
        #expect(throws: PostgresConnectionError.unreadableRootCertificate(path: "/nonexistent/ca.pem")) {
            try PostgresConnectionURL("postgres://u@h/d?sslrootcert=/nonexistent/ca.pem")
        }
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("phiguard-empty-\(UUID()).pem").path
        try "".write(toFile: empty, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: empty) }
        #expect(throws: PostgresConnectionError.unreadableRootCertificate(path: empty)) {
            try PostgresConnectionURL("postgres://u@h/d?sslmode=verify-ca&sslrootcert=\(empty)")
        }
        // `disable` ignores sslrootcert, as libpq does: nothing is read.
        #expect(
            try PostgresConnectionURL("postgres://u@h/d?sslmode=disable&sslrootcert=/nonexistent").sslMode == .disable)
    }

    @Test("The password appears in no error, description, debug description or mirror")
    func passwordNeverShown() throws {
        let refused = [
            "postgres://u:\(Self.password)@h/d?sslmode=\(Self.password)",
            "postgres://u:\(Self.password)@h/d?\(Self.password)=x",
            "postgres://u:\(Self.password)@h:99999/d",
            "postgres://u:\(Self.password)@/d",
            "postgres://u:\(Self.password)@h/d?sslrootcert=/nonexistent/\(UUID())",
            "http://u:\(Self.password)@h/d",
        ]
        for text in refused {
            do {
                _ = try PostgresConnectionURL(text)
                Issue.record("accepted a bad URL")
            } catch {
                #expect(!error.description.contains(Self.password))
                #expect(!String(reflecting: error).contains(Self.password))
                #expect(!"\(error)".contains(Self.password))
            }
        }
        let url = try PostgresConnectionURL("postgres://u:\(Self.password)@h/d?sslmode=require")
        for text in [url.description, url.debugDescription, String(reflecting: url), "\(url)"] {
            #expect(!text.contains(Self.password))
        }
        var dumped = ""
        dump(url, to: &dumped)
        #expect(!dumped.contains(Self.password))
        #expect(dumped.contains("require"))
        for error in Self.everyConnectionError {
            #expect(!error.description.isEmpty)
        }
    }

    static let everyConnectionError: [PostgresConnectionError] = [
        .malformedURL, .unsupportedParameter(name: "x"), .unsupportedParameter(name: ""), .unsupportedSSLMode,
        .unreadableRootCertificate(path: "/p"), .tlsHandshakeFailed, .tlsUnsupportedByServer, .refusedByServer,
        .authenticationFailed, .unreachable, .timedOut, .failed("X"),
    ]

    /// A self-signed test CA certificate (P-256, CN "PHIGuard URL test CA"); only parsed, never trusted.
    static let caPEM = """
        -----BEGIN CERTIFICATE-----
        MIIBljCCATugAwIBAgIUeZ1kGe6cxrjLV+IZtfvLWjIp3IEwCgYIKoZIzj0EAwIw
        HzEdMBsGA1UEAwwUUEhJR3VhcmQgVVJMIHRlc3QgQ0EwIBcNMjYxMTI5MTcyNTMy
        WhgPMjEyNjExMDUxNzI1MzJaMB8xHTAbBgNVBAMMFFBISUd1YXJkIFVSTCB0ZXN0
        IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEe9JEL0iBLNfHTjVBFjUDEAHi
        wKj2MUl5QcRVSF9qZFoAEUzGva6mD1Ze2YeP7sjjbCJ/SdpURbWHY/hrtOjXBqNT
        MFEwHQYDVR0OBBYEFPhz9nGGQT3z0V9D6spVWO2kNmejMB8GA1UdIwQYMBaAFPhz
        9nGGQT3z0V9D6spVWO2kNmejMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwID
        SQAwRgIhAOIUCm0IB8oqSG/RV0MpXb/mckqOFQBefymnwjMKv9PcAiEA7iwX5ZQY
        enBKiurH13eCnImuvpUqy8zzedPhKx8Vo0Q=
        -----END CERTIFICATE-----
        """
}
