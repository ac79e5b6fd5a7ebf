// The patient portal on the web: a thin executable over WebPortalApp. Opens (or creates and seeds)
// the portal in a data folder, prints the demo accounts and serves on 127.0.0.1.
import ArgumentParser
import Foundation
import Hummingbird
import Logging
import PortalCore
import WebPortalApp

/// `WebPortal`: serve the patient portal on loopback.
@main
struct WebPortal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "WebPortal",
        abstract: "The patient portal as a web app on 127.0.0.1 (seeded demo hospital; DEMO ONLY credentials).",
        discussion: """
            Prints one `demo-account LOGIN PASSWORD OTPAUTH_URI` line per seeded account, then \
            `WebPortal listening on http://127.0.0.1:PORT` once the server accepts connections.
            """)

    /// The policy shipped with the repository, found from this source file's location.
    static let policy = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Policies/hospital.yaml").standardized.path

    @Option(help: "The data folder (database, keys, log); created and seeded when it holds no portal yet.")
    var data: String?
    @Option(help: "The port on 127.0.0.1 (default: $PORT, else 8080; 0 picks a free one).")
    var port: Int?
    @Option(help: "DEMO ONLY: the password of every seeded account (no spaces).")
    var password = "riverside-demo-portal"
    @Option(help: "How many patients to seed in a new data folder.")
    var patients = 300
    @Option(
        name: .customLong("database-url"),
        help: """
            A PostgreSQL URL (postgres://user@host/db?sslmode=verify-full&sslrootcert=CA.pem) holding every \
            store instead of the SQLite file; seeded when it holds no portal yet. Prefer the \
            PORTAL_DATABASE_URL variable: a password on a command line is visible to other users.
            """)
    var databaseURL: String?

    /// `--database-url`, else `PORTAL_DATABASE_URL`, else `nil` (the SQLite file in the data folder).
    var resolvedDatabaseURL: String? {
        databaseURL ?? ProcessInfo.processInfo.environment["PORTAL_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    func validate() throws {
        guard !password.contains(where: \.isWhitespace) else { throw ValidationError("--password has no spaces") }
        guard (3...100_000).contains(patients) else { throw ValidationError("--patients is 3…100000") }
    }

    func run() async throws {
        umask(0o077)  // the database, its WAL, the keys and the log are for this user only
        let folder =
            data
            ?? FileManager.default.temporaryDirectory.appendingPathComponent(
                "phiguard-web-\(UUID().uuidString.prefix(8))"
            )
            .path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let port = port ?? Int(ProcessInfo.processInfo.environment["PORT"] ?? "") ?? 8080
        let configuration = PortalConfiguration(
            databasePath: folder + "/portal.sqlite", keyDirectory: folder + "/keys", policyPath: Self.policy,
            databaseURL: resolvedDatabaseURL, clientLabel: "WebPortal", logger: Logger(label: "web-portal"))
        // A data folder (or PostgreSQL database) without a portal is created and seeded.
        let portal: Portal
        let creating: Bool
        do {
            portal = try await Portal.open(configuration)
            creating = false
        } catch PortalError.notInitialized {
            portal = try await Portal.open(configuration, creating: true)
            creating = true
        }
        do {
            if creating { try await portal.seed(password: password, patientCount: patients) }
            for account in PortalSeed.accounts {
                let uri = try await portal.demoAuthenticatorURI(loginName: account.loginName)
                say("demo-account \(account.loginName) \(password) \(uri)")
            }
            let app = try WebPortalApp(portal: portal)
            let server = Application(
                router: app.router(), configuration: .init(address: .hostname("127.0.0.1", port: port)),
                onServerRunning: { channel in
                    say("WebPortal listening on http://127.0.0.1:\(channel.localAddress?.port ?? port)")
                })
            try await server.runService()
        } catch {
            try? await portal.close()
            throw error
        }
        try await portal.close()
    }
}

/// Writes a line to standard output at once (the browser tests wait for these lines).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
