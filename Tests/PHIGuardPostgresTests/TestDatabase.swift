import Foundation
import Logging
import PHIGuardPostgres
import PostgresNIO
import Testing

/// The throwaway server `scripts/with-test-postgres.sh` starts: TLS only, with a certificate from a
/// throwaway CA. Its URL (`PHIGUARD_POSTGRES_URL`) says `sslmode=verify-full&sslrootcert=<CA>`, so every
/// suite here runs over verified TLS. Under CI the suites are enabled even without the variable, so
/// a missing server fails loudly instead of being skipped.
enum TestDatabase {
    static let environment = ProcessInfo.processInfo.environment

    /// Whether the PostgreSQL suites run.
    static var enabled: Bool { environment["PHIGUARD_POSTGRES_URL"] != nil || environment["CI"] != nil }

    /// The server's URL, with its port replaced and its query replaced when asked.
    static func urlText(port: Int? = nil, query: String? = nil) throws -> String {
        var components = try #require(
            environment["PHIGUARD_POSTGRES_URL"].flatMap(URLComponents.init(string:)),
            "PHIGUARD_POSTGRES_URL is not set: run the tests through `make test`")
        if let port { components.port = port }
        if let query { components.percentEncodedQuery = query }
        return try #require(components.string)
    }

    /// The parsed server URL (verify-full against the throwaway CA).
    static func url(port: Int? = nil, query: String? = nil) throws -> PostgresConnectionURL {
        try PostgresConnectionURL(try urlText(port: port, query: query))
    }

    /// A CA file the script made: `PHIGUARD_TEST_POSTGRES_CA` or `PHIGUARD_TEST_POSTGRES_WRONG_CA`.
    static func caPath(_ variable: String) throws -> String {
        try #require(environment[variable], "\(variable) is not set: run the tests through `make test`")
    }

    /// A client for `url` (the test server by default) with `connections` connections, running for
    /// the duration of `body`.
    static func withClient<R>(
        connections: Int = 8, port: Int? = nil, url: PostgresConnectionURL? = nil,
        _ body: (PostgresClient) async throws -> R
    ) async throws -> R {
        var configuration = try (url ?? Self.url(port: port)).clientConfiguration()
        configuration.options.maximumConnections = connections
        configuration.options.connectTimeout = .seconds(2)
        let client = PostgresClient(configuration: configuration, backgroundLogger: Logger(label: "test"))
        let runner = Task { await client.run() }
        defer { runner.cancel() }
        return try await body(client)
    }
}
