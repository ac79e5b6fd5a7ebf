import ArgumentParser
import Foundation
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardAuthentication
import PHIGuardRecords
import PHIGuardTOTP
import PHIGuardTOTPQRCode
import PortalCore

/// `init`: creates the database and the keys and seeds the demo hospital.
struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create the database and keys and seed a demo hospital (demo password on stdin).")

    @OptionGroup var options: PortalOptions
    @Option(help: "How many made-up patients to seed (at least 3).")
    var patients = 300

    func run() async throws {
        try await PortalRunner.run(options, creating: true) {
            try PortalInput.secret("Password for the demo accounts: ")
        } _: { context, password in
            let terminal = isatty(STDERR_FILENO) == 1
            try await context.portal.seed(password: password, patientCount: max(patients, 3)) { done, total in
                // A progress line: redrawn in place on a terminal, every 100 patients otherwise.
                if terminal || done % 100 == 0 || done == total {
                    let line = "Seeding patients: \(done)/\(total)" + (terminal && done < total ? "\r" : "\n")
                    FileHandle.standardError.write(Data(line.utf8))
                }
            }
            print(
                """
                Portal initialised: database \(options.database), keys in \(options.keys)/ (mode 0600, never printed).
                Demo hospital (DEMO ONLY: made-up people; never seed real accounts like this):
                  \(max(patients, 3)) patients p-1 … p-\(max(patients, 3)), every index and chart field encrypted at rest
                """)
            for account in PortalSeed.accounts {
                let link = account.patientID.map { " (patient \($0))" } ?? ""
                let team = account.careTeam.isEmpty ? "" : ", care team of \(account.careTeam.count) patients"
                let name = account.loginName.padding(toLength: 10, withPad: " ", startingAt: 0)
                print("  \(name) \(account.roles.joined(separator: "+"))\(link)\(team)")
            }
            print(
                """
                Every demo account has the password you typed and a TOTP authenticator enrolled.
                DEMO ONLY: `PatientPortal totp-code --account alice` prints an account's current code.
                """)
        }
    }
}

/// `totp-code`: the demo stand-in for an authenticator app.
struct TOTPCodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "totp-code",
        abstract: "DEMO ONLY: print the current TOTP code of a seeded demo account (for scripted runs).",
        discussion: """
            A real portal never shows a user's code: it lives in their authenticator app. This helper \
            works only for the accounts `init` seeded. If the current code was already used (codes are \
            accepted once), it prints the next one, which is valid within the verification window.
            """)

    @OptionGroup var options: PortalOptions
    @Option(help: "The demo account's login name.")
    var account: String

    func run() async throws {
        try await PortalRunner.run(options) { context in
            let code = try await context.portal.demoCode(loginName: account)
            FileHandle.standardError.write(Data("DEMO ONLY: the code \(account)'s authenticator shows\n".utf8))
            print(code)
        }
    }
}

/// `register begin|complete`: opening an account (password and TOTP enrolment).
struct RegisterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "register", abstract: "Register a new account (with TOTP enrolment).",
        subcommands: [Begin.self, Complete.self])

    /// `register begin`: a registration session, which has no principal.
    struct Begin: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start a registration: the session file then holds a registration session (no principal).")

        @OptionGroup var options: PortalOptions

        func run() async throws {
            try await PortalRunner.run(options) { context in
                let token = try await context.portal.beginRegistration(replacing: context.token)
                try context.sessionFile.write(token)
                print(
                    "Registration started. It can only complete a registration: "
                        + "`PatientPortal register complete --user NAME`.")
            }
        }
    }

    /// `register complete`: password, TOTP enrolment and confirmation; creates the account.
    struct Complete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Finish the registration: password (stdin line 1), then the code of the shown authenticator.",
            discussion: """
                The otpauth:// URI and a QR code are printed for your authenticator app; type (or pipe as the \
                next line) the code it shows (TOTP is optional for patients: --no-totp skips it). The account \
                gets the `patient` role and a new patient record the portal creates (a patient id sent by the \
                client is never used), holding --name and --birth-date (encrypted) so the front desk can find \
                you; you are not signed in: run `login` next.
                """)

        @OptionGroup var options: PortalOptions
        @Option(help: "The login name to register.")
        var user: String
        @Flag(name: .customLong("no-totp"), help: "Register without an authenticator (patients only; password alone).")
        var noTOTP = false
        @Option(help: "Your full name, as the front desk will search for it (stored encrypted).")
        var name: String?
        @Option(name: .customLong("birth-date"), help: "Your date of birth, YYYY-MM-DD (stored encrypted).")
        var birthDate: String?

        func run() async throws {
            try await PortalRunner.run(options) { context in
                guard let token = context.token, try await context.portal.pendingState(token: token) == "registering"
                else { throw PortalError.notSignedIn }
                let password = try PortalInput.password("Choose a password: ")
                if noTOTP {
                    try await context.portal.completeRegistration(
                        token: token, loginName: user, password: password, name: name, birthDate: birthDate)
                } else {
                    let enrollment = try context.portal.newEnrollment(loginName: user)
                    print("Add this to your authenticator app (shown once; it is your second factor):")
                    print(try enrollment.uri.revealString())
                    if isatty(STDOUT_FILENO) == 1 { print(try enrollment.terminalQRCode().render()) }
                    fflush(nil)  // the prompt below reads stdin: show the URI first
                    let code = try PortalInput.line("Code from your authenticator: ")
                    try await context.portal.completeRegistration(
                        token: token, loginName: user, password: password, enrollment: enrollment, code: code,
                        name: name, birthDate: birthDate)
                }
                context.sessionFile.remove()
                // One answer whether or not the name was free: the answer must not tell who has an account.
                print(
                    "Registration confirmed. If the name was free, the account is created; "
                        + "sign in with `PatientPortal login --user \(user)`.")
            }
        }
    }
}

/// `login`: password, then the TOTP code; the session file then holds an authenticated session.
struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Sign in: the password (stdin line 1 or a no-echo prompt), then the TOTP or recovery code (line 2).")

    @OptionGroup var options: PortalOptions
    @Option(help: "The login name.")
    var user: String

    func run() async throws {
        try await PortalRunner.run(options) { context in
            let password = try PortalInput.password("Password: ")
            let identity: PortalIdentity
            switch try await context.portal.signIn(loginName: user, password: password, replacing: context.token) {
            case .signedIn(let token, let signedIn):
                try context.sessionFile.write(token)
                identity = signedIn
            case .needsSecondFactor(let pending):
                // The pending session (no principal) is the cookie until the code is checked.
                try context.sessionFile.write(pending)
                let code = try PortalInput.line("Authenticator code: ")
                let signedIn = try await context.portal.verifySecondFactor(token: pending, code: code)
                try context.sessionFile.write(signedIn.token)
                identity = signedIn.identity
            }
            print("Signed in (session \(identity.sessionHandle), \(identity.strength)).")
            if identity.passwordChangeRequired {
                print("Your password is temporary: run `password change` now; nothing else is open until you do.")
            }
        }
    }
}

/// `logout`: ends the session (whatever its state) and deletes the session file.
struct LogoutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logout", abstract: "Sign out.")

    @OptionGroup var options: PortalOptions

    func run() async throws {
        try await PortalRunner.run(options) { context in
            let ended = try await context.portal.signOut(token: context.token)
            context.sessionFile.remove()
            print(ended ? "Signed out." : "No session.")
        }
    }
}

/// `whoami`: who the session file's session belongs to.
struct WhoamiCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "whoami", abstract: "Show who you are signed in as.")

    @OptionGroup var options: PortalOptions

    func run() async throws {
        try await PortalRunner.run(options) { context in
            if let state = try await context.portal.pendingState(token: context.token) {
                print("Session state: \(state) (no principal).")
            }
            let identity = try await context.portal.whoami(token: context.token)
            print("Signed in as account \(identity.accountID)")
            print("  roles: \(identity.roles.joined(separator: ", "))")
            if let patientID = identity.patientID { print("  patient: \(patientID)") }
            print("  session: \(identity.sessionHandle), \(identity.strength)")
            print("  expires: \(identity.expiresAt.formatted(.iso8601))")
        }
    }
}

/// `sessions list|end`: the signed-in user's sessions.
struct SessionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessions", abstract: "List or end your sessions.", subcommands: [List.self, End.self],
        defaultSubcommand: List.self)

    /// `sessions list`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List your sessions (* is this one).")

        @OptionGroup var options: PortalOptions

        func run() async throws {
            try await PortalRunner.run(options) { context in
                for summary in try await context.portal.sessions(token: context.token) {
                    print(
                        "\(summary.isCurrent ? "*" : " ") \(summary.handle)  created \(summary.createdAt.formatted(.iso8601))"
                            + "  last used \(summary.lastSeenAt.formatted(.iso8601))"
                            + "  expires \(summary.expiresAt.formatted(.iso8601))  \(summary.clientLabel ?? "")")
                }
            }
        }
    }

    /// `sessions end HANDLE`.
    struct End: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "End one of your other sessions by its handle.")

        @OptionGroup var options: PortalOptions
        @Argument(help: "The session handle (from `sessions list`).")
        var handle: String

        func run() async throws {
            try await PortalRunner.run(options) { context in
                let ended = try await context.portal.endSession(token: context.token, handle: handle)
                print(ended ? "Session ended." : "No such session of yours.")
            }
        }
    }
}

/// Prints a page of patients, one line each, then the next cursor.
private func printPage(_ page: PatientPage) {
    for patient in page.patients {
        let shown = ["mrn", "name", "birth-date", "ssn"].compactMap { field in
            patient.fields[field].map { "\(field)=\($0)" }
        }
        print("\(patient.patientID)  \(shown.joined(separator: "  "))")
    }
    print("(\(page.patients.count) patient(s)" + (page.nextCursor.map { "; next page: --cursor \($0))" } ?? ")"))
}

/// `patients`: the patients the policy lets you list.
struct PatientsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "patients",
        abstract: "List the patients you may see (your care team, your own record, or all for the front desk).")

    @OptionGroup var options: PortalOptions
    @Option(help: "The cursor a previous page printed.")
    var cursor: String?
    @Option(help: "Patients per page (1-500).")
    var limit = 20
    @Option(
        help:
            "Sort by id (default), patient, or a patient-index field; a leading - sorts descending. Encrypted fields are refused."
    )
    var sort: String?

    func run() async throws {
        try await PortalRunner.run(options) { context in
            let order = try sort.map { text throws(PortalError) in try PatientSort(parsing: text) } ?? .recordID
            printPage(
                try await context.portal.listPatients(token: context.token, sort: order, cursor: cursor, limit: limit))
        }
    }
}

/// `search`: exact search through the blind indexes.
struct SearchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Find patients you may see by MRN, full name (any case) or date of birth (YYYY-MM-DD).")

    @OptionGroup var options: PortalOptions
    @Option(help: "The medical record number.")
    var mrn: String?
    @Option(help: "The full name.")
    var name: String?
    @Option(help: "The date of birth, YYYY-MM-DD.")
    var dob: String?
    @Option(help: "The cursor a previous page printed.")
    var cursor: String?
    @Option(help: "Patients per page (1-500).")
    var limit = 20

    func validate() throws {
        guard mrn != nil || name != nil || dob != nil else {
            throw ValidationError("give at least one of --mrn, --name, --dob")
        }
    }

    func run() async throws {
        try await PortalRunner.run(options) { context in
            let search = PatientSearch(mrn: mrn, name: name, birthDate: dob)
            printPage(
                try await context.portal.listPatients(
                    token: context.token, search: search, cursor: cursor, limit: limit))
        }
    }
}

/// `chart show|update`.
struct ChartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chart", abstract: "Show or update a chart.", subcommands: [Show.self, Update.self],
        defaultSubcommand: Show.self)

    /// `chart show [PATIENT]`.
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a chart (your own by default): only the fields the policy lets you see.")

        @OptionGroup var options: PortalOptions
        @Argument(help: "The patient id (default: the patient you are).")
        var patient: String?
        @Option(name: .customLong("patient"), help: "The patient id (same as the argument).")
        var patientOption: String?

        func run() async throws {
            try await PortalRunner.run(options) { context in
                var target = patient ?? patientOption
                if target == nil, try await context.portal.pendingState(token: context.token) == nil,
                    let own = try? await context.portal.whoami(token: context.token).patientID
                {
                    target = own
                }
                let chart = try await context.portal.chart(token: context.token, patientID: target ?? "")
                let names = chart.fields.map(\.name)
                print("Chart \(chart.patientID) (fields the policy allows you: \(names.joined(separator: ", ")))")
                if let grant = chart.breakGlassGrantID { print("  (read under break-glass grant \(grant))") }
                for field in ["name", "birth-date", "mrn", "ssn"] {
                    if let value = chart.identity[field] { print("  \(field): \(value)") }
                }
                for (name, value) in chart.fields { print("  \(name): \(value)") }
            }
        }
    }

    /// `chart update PATIENT --field F` (the value on stdin).
    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set one chart field (the new value is line 1 of stdin); the policy decides who may set what.")

        @OptionGroup var options: PortalOptions
        @Argument(help: "The patient id.")
        var patient: String
        @Option(help: "The chart field (problems, medications, allergies, vitals, labs, contact, …).")
        var field: String

        func run() async throws {
            try await PortalRunner.run(options, creating: false) {
                try PortalInput.line("New value of \(field): ")
            } _: { context, value in
                let sequence = try await context.portal.updateChart(
                    token: context.token, patientID: patient, field: field, value: value)
                print("Chart \(patient): \(field) updated (audit record \(sequence)).")
            }
        }
    }
}

/// `break-glass invoke|review`.
struct BreakGlassCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "break-glass", abstract: "Emergency access to a chart outside your care team, and its review.",
        subcommands: [Invoke.self, Review.self], defaultSubcommand: Invoke.self)

    /// `break-glass [invoke] --patient P --reason CODE --justification TEXT`.
    struct Invoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Break the glass for one patient (physicians and nurses; audited and reviewed).")

        @OptionGroup var options: PortalOptions
        @Option(help: "The patient id.")
        var patient: String
        @Option(help: "HL7 purpose of use: ETREAT, ERTREAT, BTG, DISASTER, THREAT.")
        var reason: String
        @Option(help: "Why (stored encrypted; shown to the reviewer).")
        var justification: String
        @Option(help: "Minutes the grant lasts (the policy caps it).")
        var minutes = 60

        func run() async throws {
            try await PortalRunner.run(options) { context in
                let grant = try await context.portal.breakGlass(
                    token: context.token, patientID: patient, reasonCode: reason, justification: justification,
                    duration: .seconds(max(1, minutes) * 60))
                print(
                    "Break-glass grant \(grant.id) for \(grant.patientIDs.joined(separator: ", ")) until "
                        + "\(grant.expiresAt.formatted(.iso8601)); every use is audited and reviewed.")
            }
        }
    }

    /// `break-glass review [--grant ID --outcome O]`.
    struct Review: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Auditors: list the unreviewed grants with every use, or record a grant's review.")

        @OptionGroup var options: PortalOptions
        @Option(help: "The grant to mark reviewed.")
        var grant: String?
        @Option(help: "The review outcome (an identifier, e.g. justified, unjustified).")
        var outcome = "justified"
        @Flag(help: "Include grants already reviewed.")
        var all = false

        func run() async throws {
            try await PortalRunner.run(options) { context in
                if let grant {
                    try await context.portal.reviewBreakGlass(token: context.token, grantID: grant, outcome: outcome)
                    print("Grant \(grant) reviewed: \(outcome).")
                    return
                }
                Self.printQueue(
                    try await context.portal.breakGlassReviewQueue(token: context.token, includeReviewed: all))
            }
        }

        /// Prints the review queue: each grant, then every access decision made under it.
        static func printQueue(_ queue: [BreakGlassReviewItem]) {
            print("\(queue.count) break-glass grant(s) to review")
            for item in queue {
                let grant = item.grant
                print(
                    "  \(grant.id)  by \(grant.subjectID)  patients \(grant.scope.patientIDs.joined(separator: ","))"
                        + "  \(grant.reason.category.rawValue)  issued \(grant.issuedAt.formatted(.iso8601))"
                        + (item.review.map { "  reviewed: \($0.outcome)" } ?? ""))
                for use in item.uses {
                    let event = use.event
                    print(
                        "    use #\(use.sequence): \(event.action ?? "?") \(event.resourceType ?? "?") "
                            + "\(event.patientID ?? "") \(event.outcome.rawValue)")
                }
            }
        }
    }
}

/// `staff add|roles|disable` (admins).
struct StaffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "staff", abstract: "Administer accounts (admins only; decided by the policy and audited).",
        subcommands: [Add.self, Roles.self, Disable.self])

    /// `staff roles --user NAME --roles a,b`.
    struct Roles: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace an account's roles; its sessions end, so the change counts at its next sign-in.")

        @OptionGroup var options: PortalOptions
        @Option(help: "The account's login name.")
        var user: String
        @Option(help: "Comma-separated roles (patient, physician, nurse, charge-nurse, front-desk, billing-clerk, …).")
        var roles: String

        func run() async throws {
            try await PortalRunner.run(options) { context in
                let list = roles.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                try await context.portal.setRoles(token: context.token, loginName: user, roles: list)
                print("Roles of \(user): \(list.joined(separator: ", ")); the account's sessions were ended.")
            }
        }
    }

    /// `staff disable --user NAME [--enable]`.
    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Disable an account (its sessions end at once), or enable it again with --enable.")

        @OptionGroup var options: PortalOptions
        @Option(help: "The account's login name.")
        var user: String
        @Flag(help: "Enable the account instead.")
        var enable = false

        func run() async throws {
            try await PortalRunner.run(options) { context in
                try await context.portal.setDisabled(token: context.token, loginName: user, disabled: !enable)
                print(enable ? "Account \(user) enabled." : "Account \(user) disabled; its sessions were ended.")
            }
        }
    }
}
