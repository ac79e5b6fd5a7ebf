import Foundation
import PHIGuardAuthentication
import PHIGuardPostgres
import PHIGuardTestSupport
import PostgresNIO
import Testing

/// TLS against the throwaway server: it accepts TLS only (`hostssl` in pg_hba.conf) with a
/// certificate for localhost and 127.0.0.1 from the CA in `PHIGUARD_TEST_POSTGRES_CA`;
/// `PHIGUARD_TEST_POSTGRES_WRONG_CA` is another CA that signed nothing there.
@Suite("PostgreSQL over TLS", .enabled(if: TestDatabase.enabled))
struct PostgresTLSTests {
    /// Long enough for a fully loaded 2-core machine running the whole suite in parallel: these tests
    /// check what the connection does, not how fast (a timeout would surface as `timedOut`, a failure).
    static let timeout = Duration.seconds(120)

    /// `sslmode=MODE&sslrootcert=<the CA in variable>`.
    static func query(_ mode: String, ca variable: String) throws -> String {
        "sslmode=\(mode)&sslrootcert=\(try TestDatabase.caPath(variable))"
    }

    @Test("The suites' URL verifies the server: verify-full against the throwaway CA, encrypted on the server")
    func verifiedSession() async throws {
        let url = try TestDatabase.url()
        #expect(url.sslMode == .verifyFull)
        try await url.checkConnection(timeout: Self.timeout)
        let encrypted = try await TestDatabase.withClient(connections: 1) { client in
            let rows = try await client.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            return try await rows.collect().first?.decode(Bool.self)
        }
        #expect(encrypted == true)
    }

    @Test("verify-full by host name (localhost) and verify-ca also connect")
    func otherVerifiedModes() async throws {
        var components = try #require(URLComponents(string: try TestDatabase.urlText()))
        components.host = "localhost"
        let byName = try PostgresConnectionURL(try #require(components.string))
        try await byName.checkConnection(timeout: Self.timeout)
        try await TestDatabase.url(query: try Self.query("verify-ca", ca: "PHIGUARD_TEST_POSTGRES_CA"))
            .checkConnection(timeout: Self.timeout)
    }

    @Test(
        "A server certificate from another CA is refused with a typed error",
        arguments: ["verify-full", "verify-ca", "require"])
    func wrongCA(_ mode: String) async throws {
        let url = try TestDatabase.url(query: try Self.query(mode, ca: "PHIGUARD_TEST_POSTGRES_WRONG_CA"))
        await #expect(throws: PostgresConnectionError.tlsHandshakeFailed) {
            try await url.checkConnection(timeout: Self.timeout)
        }
    }

    @Test("A store on a client that does not trust the server's CA fails with its own typed error")
    func wrongCAStore() async throws {
        let url = try TestDatabase.url(query: try Self.query("verify-full", ca: "PHIGUARD_TEST_POSTGRES_WRONG_CA"))
        try await TestDatabase.withClient(connections: 1, url: url) { client in
            // `migrate()` (CREATE TABLE IF NOT EXISTS) succeeds on any server it reaches, so only the
            // refused certificate can make it fail.
            let store = PostgresSessionStore(client: client, table: "sess_tls", timeout: .milliseconds(500))
            do {
                try await store.migrate()
                Issue.record("a session store reached the server over an untrusted certificate")
            } catch {
                #expect(error as? SessionStoreError == .unavailable("DeadlineExceeded"))
            }
        }
    }

    @Test("sslmode=disable is refused by the hostssl-only server")
    func plainConnectionRefused() async throws {
        let url = try TestDatabase.url(query: "sslmode=disable")
        await #expect(throws: PostgresConnectionError.refusedByServer) {
            try await url.checkConnection(timeout: Self.timeout)
        }
    }

    @Test("require without sslrootcert encrypts without verifying (libpq's meaning), so it connects")
    func requireWithoutRoot() async throws {
        try await TestDatabase.url(query: "sslmode=require").checkConnection(timeout: Self.timeout)
    }

    @Test("Nothing listening is unreachable, not a TLS failure")
    func unreachable() async throws {
        await #expect(throws: PostgresConnectionError.unreachable) {
            try await TestDatabase.url(port: 1).checkConnection(timeout: Self.timeout)
        }
    }
}
