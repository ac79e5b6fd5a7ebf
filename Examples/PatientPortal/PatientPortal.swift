// An EMR-style patient portal on the command line: a thin front end over PortalCore, on a real
// SQLite file. See Examples/PatientPortal/README.md.
import ArgumentParser
import Foundation
import Logging
import PHIGuardErrors
import PHIGuardKeys
import PortalCore

/// `PatientPortal`: the root command.
@main
struct PatientPortal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "PatientPortal",
        abstract: "A patient portal on the command line: staff roles, TOTP, encrypted charts, audited access.",
        discussion: """
            Every failure prints one line: a fixed public message and a reference; the detail is in \
            <database>.log under that reference. Exit status: 0 success, 1 not found or denied, 3 not \
            signed in or authentication failed, 4 too many attempts, 64 usage, 65 invalid input, \
            69 unavailable or not initialised, 70 internal error, 73 already initialised; `audit verify|review`: 2 when the audit log is broken; `attack-suite`: 2 when an attack is not blocked.
            """,
        subcommands: [
            InitCommand.self, TOTPCodeCommand.self, RegisterCommand.self, LoginCommand.self, LogoutCommand.self,
            WhoamiCommand.self, SessionsCommand.self, PatientsCommand.self, SearchCommand.self, ChartCommand.self,
            BreakGlassCommand.self, StaffCommand.self, MFACommand.self, PasswordCommand.self, KeysCommand.self,
            ExportCommand.self, NotesCommand.self, MessagesCommand.self, AuditCommand.self, ShellCommand.self,
            AttackSuiteCommand.self,
        ]
    )
}

/// The options every subcommand shares: where the database, the keys and the session cookie live.
struct PortalOptions: ParsableArguments {
    /// The policy shipped with the repository, found from this source file's location.
    static let defaultPolicy = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Policies/hospital.yaml").standardized.path

    @Option(help: "The SQLite database (accounts, charts, sessions, rate limits, audit log).")
    var database = "portal.sqlite"
    @Option(
        name: .customLong("database-url"),
        help: """
            A PostgreSQL URL (postgres://user@host/db?sslmode=verify-full&sslrootcert=CA.pem) holding every \
            store instead of the SQLite file, shared by every instance (--database then only names the log \
            and the checkpoint witness). Prefer the PORTAL_DATABASE_URL variable: a password on a command \
            line is visible to other users.
            """)
    var databaseURL: String?

    /// `--database-url`, else `PORTAL_DATABASE_URL`, else `nil` (the SQLite file).
    var resolvedDatabaseURL: String? {
        databaseURL ?? ProcessInfo.processInfo.environment["PORTAL_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }
    @Option(help: "The key directory made by `init` (files 0600).")
    var keys = "portal-keys"
    @Option(name: .customLong("session-file"), help: "The session cookie file (mode 0600).")
    var sessionFile = ".portal-session"
    @Option(help: "The access policy (YAML).")
    var policy = PortalOptions.defaultPolicy
    @Option(
        name: .customLong("client-address"),
        help: "The workstation address recorded for rate limits (a web front end uses the peer address).")
    var clientAddress = "local-cli"
}

/// What a subcommand's body gets: the portal, and the session file with the token it holds.
struct PortalContext {
    let portal: Portal
    let sessionFile: PortalSessionFile
    /// The token the session file holds (`nil` when there is none).
    let token: String?
}

/// Runs one subcommand: opens the portal, runs `body`, closes it, and turns any error into the
/// reporter's one public line and an exit status.
enum PortalRunner {
    static func run(
        _ options: PortalOptions, creating: Bool = false, _ body: (PortalContext) async throws -> Void
    ) async throws {
        try await run(options, creating: creating, input: {}) { context, _ in try await body(context) }
    }

    /// Reads `input` first (so bad input changes nothing), then runs `body`; with `creating`, refuses
    /// an existing database and creates the keys before opening.
    static func run<Input>(
        _ options: PortalOptions, creating: Bool, input: () throws -> Input,
        _ body: (PortalContext, Input) async throws -> Void
    ) async throws {
        umask(0o077)  // the database, its WAL and the log are for this user only
        let logger = PortalLogging.bootstrap(path: options.database + ".log")
        let reporter = ErrorReporter(logger: logger)
        var opened: Portal?
        do {
            let given = try input()
            let sessionFile = PortalSessionFile(path: options.sessionFile)
            let portal = try await Portal.open(
                PortalConfiguration(
                    databasePath: options.database, keyDirectory: options.keys, policyPath: options.policy,
                    databaseURL: options.resolvedDatabaseURL, clientAddress: options.clientAddress, logger: logger),
                creating: creating)
            opened = portal
            try await body(
                PortalContext(portal: portal, sessionFile: sessionFile, token: try sessionFile.read()), given)
            opened = nil
            try await portal.close()
        } catch {
            if let opened { try? await opened.close() }
            // The operator runs this CLI: name the refused key file, its problem and the fix (never the key).
            if case .keys(let keyError) = error as? PortalError {
                FileHandle.standardError.write(
                    Data("PatientPortal: \(keyError.description); fix: \(keyError.fix)\n".utf8))
            }
            let failure = reporter.report(error)
            FileHandle.standardError.write(Data("PatientPortal: \(failure.cliMessage)\n".utf8))
            throw ExitCode(exitStatus(for: failure.status))
        }
    }

    /// The exit status of a public problem's HTTP status (documented in the README).
    static func exitStatus(for status: Int) -> Int32 {
        switch status {
        case 401: 3
        case 403, 404: 1
        case 409: 73
        case 429: 4
        case 400, 422: 65
        case 503: 69
        default: 70
        }
    }
}
