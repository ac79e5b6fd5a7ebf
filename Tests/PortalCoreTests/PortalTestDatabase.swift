import Foundation
import Logging
import PHIGuardPostgres
import PostgresNIO
import Testing

@testable import PortalCore

/// A fresh PostgreSQL database for one test, on the throwaway TLS server `scripts/with-test-postgres.sh`
/// starts (`PHIGUARD_POSTGRES_URL`, `sslmode=verify-full` against its throwaway CA). Every portal
/// test gets a database of its own (`CREATE DATABASE portal_<random>`), dropped at the end, so tests
/// never see each other's tables. Created and dropped over a `PostgresClient` (never `psql` with a
/// blocking wait: the cooperative pool has two threads on CI).
struct PortalTestDatabase: Sendable {
    static let environment = ProcessInfo.processInfo.environment

    /// Whether the PostgreSQL suites run: with the server's URL, and always under CI (so a missing
    /// server fails loudly there instead of being skipped).
    static var enabled: Bool { environment["PHIGUARD_POSTGRES_URL"] != nil || environment["CI"] != nil }

    /// The database's name.
    let name: String
    /// Its URL (the server's URL with the database replaced).
    let url: String

    /// The server's URL with its database replaced by `database` (`nil`: the URL as given).
    static func serverURL(database: String? = nil, port: Int? = nil) throws -> String {
        var components = try #require(
            environment["PHIGUARD_POSTGRES_URL"].flatMap(URLComponents.init(string:)),
            "PHIGUARD_POSTGRES_URL is not set: run the tests through scripts/with-test-postgres.sh")
        if let database { components.path = "/" + database }
        if let port { components.port = port }
        return try #require(components.string)
    }

    /// Creates a database of its own.
    static func create() async throws -> PortalTestDatabase {
        let name = "portal_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        try await withClient(url: try serverURL()) { client in
            _ = try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"))
        }
        return PortalTestDatabase(name: name, url: try serverURL(database: name))
    }

    /// Drops the database (ending any connection still open to it).
    func drop() async {
        _ = try? await Self.withClient(url: try Self.serverURL()) { client in
            _ = try await client.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"))
        }
    }

    /// A client of `url`'s database, running for the duration of `body`.
    static func withClient<R>(url: String, _ body: (PostgresClient) async throws -> R) async throws -> R {
        let client = try client(url: url)
        let runner = Task { await client.run() }
        defer { runner.cancel() }
        return try await body(client)
    }

    /// A client of `url`'s database (the caller runs it).
    static func client(url: String) throws -> PostgresClient {
        var configuration = try PostgresConnectionURL(url).clientConfiguration()
        configuration.options.maximumConnections = 2
        configuration.options.connectTimeout = .seconds(5)
        return PostgresClient(configuration: configuration, backgroundLogger: Logger(label: "portal-test-database"))
    }
}

@Suite("PortalConfiguration never shows a database password")
struct PortalConfigurationDescriptionTests {
    @Test("description, String(reflecting:) and dump omit the URL's password")
    func noPassword() {
        let configuration = PortalConfiguration(
            databasePath: "portal.sqlite", keyDirectory: "keys", policyPath: "hospital.yaml",
            databaseURL: "postgres://portal:s3cret-pw@db.internal:5432/portal?sslmode=verify-full")
        var dumped = ""
        dump(configuration, to: &dumped)
        for shown in [configuration.description, String(reflecting: configuration), "\(configuration)", dumped] {
            #expect(!shown.contains("s3cret-pw"), "\(shown)")
            #expect(shown.contains("db.internal"), "\(shown)")
        }
    }
}
