// An EMR-style patient portal on the command line, using PHIGuard for real on a real SQLite file.
// See Examples/PatientPortal/README.md.
import ArgumentParser
import Foundation
import Logging
import PHIGuardErrors
import PHIGuardKeys

/// `PatientPortal`: the root command.
@main
struct PatientPortal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "PatientPortal",
        abstract: "A patient portal on the command line: sign-in with TOTP, encrypted charts, audited reads.",
        discussion: """
            Every failure prints one line: a fixed public message and a reference; the detail is in \
            <database>.log under that reference. Exit status: 0 success, 1 not found or denied, 3 not \
            signed in or authentication failed, 4 too many attempts, 64 usage, 65 invalid input, \
            69 unavailable or not initialised, 70 internal error, 73 already initialised.
            """,
        subcommands: [
            InitCommand.self, TOTPCodeCommand.self, RegisterCommand.self, LoginCommand.self, ChartCommand.self,
            SessionsCommand.self, WhoamiCommand.self, LogoutCommand.self,
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
    @Option(help: "The key directory made by `init` (files 0600).")
    var keys = "portal-keys"
    @Option(name: .customLong("session-file"), help: "The session cookie file (mode 0600).")
    var sessionFile = ".portal-session"
    @Option(help: "The access policy (YAML).")
    var policy = PortalOptions.defaultPolicy
}

/// The portal's own failures. Each maps to a fixed public problem; the detail goes to the log only.
enum PortalError: Error, PublicErrorMappable {
    case notInitialized
    case alreadyInitialized
    case notSignedIn
    case missingInput
    /// A key file or the key directory failed its checks (the error names the file and the problem).
    case keys(KeyError)
    case sessionFileUnusable
    case corruptRow
    case notADemoAccount
    case codeNotReady

    var errorMapping: MappedError {
        switch self {
        case .notInitialized:
            MappedError(
                .portalNotInitialized, internalCode: "portal.not_initialized", logMessage: "database or keys missing")
        case .alreadyInitialized:
            MappedError(.portalAlreadyInitialized, internalCode: "portal.exists", logMessage: "refusing to overwrite")
        case .notSignedIn:
            MappedError(
                .authenticationFailed, internalCode: "portal.no_principal", logMessage: "no authenticated session")
        case .missingInput:
            MappedError(
                .invalidRequest, internalCode: "portal.missing_input", logMessage: "expected input line missing")
        case .keys(let error):
            MappedError(
                .portalKeysRefused, internalCode: "portal.keys", logMessage: "key directory refused",
                context: ["key_file": .value(error.subject), "problem": .value(error.problem)])
        case .sessionFileUnusable:
            MappedError(.internalError, internalCode: "portal.session_file", logMessage: "session file unusable")
        case .corruptRow:
            MappedError(.internalError, internalCode: "portal.corrupt_row", logMessage: "unexpected database row")
        case .notADemoAccount:
            .resourceDenied(internalCode: "portal.not_demo", logMessage: "totp-code asked for a non-demo account")
        case .codeNotReady:
            MappedError(.rateLimited, internalCode: "portal.code_used", logMessage: "next demo code not yet valid")
        }
    }
}

extension PortalError {
    /// The portal's error for a key refusal: a missing key directory means the portal is not set up,
    /// a key file already in place means it is; anything else names the file and the problem.
    init(_ error: KeyError) {
        switch error {
        case .directoryMissing: self = .notInitialized
        case .exists: self = .alreadyInitialized
        default: self = .keys(error)
        }
    }
}

extension PublicProblem {
    /// 503: a key file or the key directory failed its checks (owner, mode, symbolic link, contents).
    static let portalKeysRefused = PublicProblem(
        code: "keys_refused", status: 503, title: "Key directory refused",
        detail: "A key file or the key directory failed its checks; the line above names it and the fix.")
    /// 503: the portal has no database or keys yet.
    static let portalNotInitialized = PublicProblem(
        code: "not_initialized", status: 503, title: "Portal not set up",
        detail: "Run `PatientPortal init` first (with the same --database and --keys).")
    /// 409: `init` found an existing database or key.
    static let portalAlreadyInitialized = PublicProblem(
        code: "already_initialized", status: 409, title: "Already set up",
        detail: "The database or a key exists already; nothing was changed.")
}

/// Runs one subcommand: opens the services, runs `body`, closes them, and turns any error into the
/// reporter's one public line and an exit status.
enum PortalRunner {
    static func run(
        _ options: PortalOptions, creating: Bool = false, _ body: (PortalServices) async throws -> Void
    ) async throws {
        try await run(options, creating: creating, input: {}) { services, _ in try await body(services) }
    }

    /// Reads `input` first (so bad input changes nothing), then runs `body`; with `creating`, refuses
    /// an existing database and creates the keys before opening.
    static func run<Input>(
        _ options: PortalOptions, creating: Bool, input: () throws -> Input,
        _ body: (PortalServices, Input) async throws -> Void
    ) async throws {
        umask(0o077)  // the database, its WAL and the log are for this user only
        let logger = PortalLogging.bootstrap(path: options.database + ".log")
        let reporter = ErrorReporter(logger: logger)
        var services: PortalServices?
        do {
            let given = try input()
            if creating {
                guard !FileManager.default.fileExists(atPath: options.database) else {
                    throw PortalError.alreadyInitialized
                }
                try PortalKeys(directory: options.keys).create()
            }
            let opened = try await PortalServices.open(options, creating: creating, logger: logger)
            services = opened
            try await body(opened, given)
            services = nil
            try await opened.close()
        } catch {
            if let services { try? await services.close() }
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
