import ArgumentParser
import Foundation
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardAuthentication
import PHIGuardErrors
import PHIGuardPasswords
import PHIGuardRecords
import PHIGuardSQLite
import PHIGuardTOTP
import PHIGuardTOTPQRCode

/// `init`: creates the database and the keys and seeds a small demo world.
struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create the database and keys and seed demo patients and accounts (demo password on stdin).")

    @OptionGroup var options: PortalOptions

    /// The demo patients: id, name, date of birth, chart fields (all made up).
    static let patients: [(id: String, name: String, born: String, chart: [String: String])] = [
        (
            "p-1", "Alice Example", "1984-03-07",
            [
                "contact": "12 Harbour Lane, Riverside", "insurance": "Riverside Mutual R-5521",
                "problems": "Asthma", "medications": "Salbutamol inhaler as needed",
                "allergies": "Penicillin", "vitals": "BP 118/76, HR 64", "labs": "HbA1c 5.2%",
                "immunizations": "Influenza 2025", "billing": "Balance 0.00",
            ]
        ),
        (
            "p-2", "Bob Sample", "1971-11-23",
            [
                "contact": "4 Mill Road, Riverside", "insurance": "Riverside Mutual R-7310",
                "problems": "Type 2 diabetes", "medications": "Metformin 500 mg twice daily",
                "allergies": "None known", "vitals": "BP 131/84, HR 72", "labs": "HbA1c 7.1%",
                "immunizations": "Hepatitis B 2019", "billing": "Balance 45.00",
            ]
        ),
        (
            "p-3", "Carol Placeholder", "1999-06-30",
            [
                "contact": "88 Station Street, Riverside", "insurance": "Self-pay",
                "problems": "Migraine", "medications": "Sumatriptan 50 mg as needed",
                "allergies": "Latex", "vitals": "BP 110/70, HR 60", "labs": "Ferritin 40 ng/mL",
                "immunizations": "HPV 2012", "billing": "Balance 120.00",
            ]
        ),
    ]

    /// The demo accounts: login name, account id, roles, patient, care team.
    static let accounts: [(login: String, id: String, roles: [String], patient: String?, careTeam: [String])] = [
        ("dr.grey", "u-dr-grey", ["physician"], nil, ["p-1", "p-2"]),
        ("alice", "u-alice", ["patient"], "p-1", []),
        ("bob", "u-bob", ["patient"], "p-2", []),
        ("carol", "u-carol", ["patient"], "p-3", []),
    ]

    func run() async throws {
        try await PortalRunner.run(options, creating: true) {
            let password = try PortalInput.secret("Password for the demo accounts: ")
            let violations = PasswordPolicy().violations(of: password, usage: .withMultiFactor)
            guard violations.isEmpty else { throw AuthenticationError.passwordNotAccepted(violations) }
            return password
        } _: { services, password in
            let database = services.database
            let hasher = try PasswordHasher()
            try await database.transaction {
                for patient in Self.patients {
                    try await database.insertPatient(
                        id: patient.id, name: patient.name, dateOfBirth: patient.born, chart: patient.chart)
                }
                for account in Self.accounts {
                    let enrollment = try TOTPEnrollment(issuer: "PHIGuard Portal", accountName: account.login)
                    _ = try await database.insertAccount(
                        id: account.id, loginName: try LoginName(account.login),
                        passwordHash: try await hasher.hash(password),
                        totp: enrollment.totp, roles: account.roles, patientID: account.patient, demo: true)
                    for patientID in account.careTeam {
                        try await database.addToCareTeam(accountID: account.id, patientID: patientID)
                    }
                }
            }
            print(
                """
                Portal initialised: database \(options.database), keys in \(options.keys)/ (mode 0600, never printed).
                Demo world (DEMO ONLY: made-up people; never seed real accounts like this):
                  patients p-1, p-2, p-3, every chart field encrypted at rest
                  dr.grey  physician, care team of p-1 and p-2
                  alice    patient p-1
                  bob      patient p-2
                  carol    patient p-3
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
        try await PortalRunner.run(options) { services in
            guard let demo = try await services.database.demoAccount(loginName: account) else {
                throw PortalError.notADemoAccount
            }
            let now = try demo.totp.timeStep(unixSeconds: services.flow.clock.wallClockSeconds())
            let used = try await services.totpSteps.lastAcceptedStep(accountID: demo.id) ?? 0
            let step = max(now, used + 1)
            guard step <= now + 1 else { throw PortalError.codeNotReady }
            FileHandle.standardError.write(Data("DEMO ONLY: the code \(account)'s authenticator shows\n".utf8))
            print(demo.totp.code(forStep: step))
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
            try await PortalRunner.run(options) { services in
                let previous = try await services.resume()
                let session = try await services.flow.beginRegistration(
                    clientLabel: PortalServices.clientLabel, replacing: previous)
                try services.sessionFile.write(session.token.cookieValue)
                print(
                    "Registration started (session \(session.record.handle)). It can only complete a registration: "
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
                next line) the code it shows. The account gets the `patient` role, linked to no patient until \
                staff verify who you are, and you are not signed in: run `login` next.
                """)

        @OptionGroup var options: PortalOptions
        @Option(help: "The login name to register.")
        var user: String

        func run() async throws {
            try await PortalRunner.run(options) { services in
                guard case .registering(let session) = try await services.resume() else {
                    throw AuthenticationError.sessionEnded
                }
                let password = try PortalInput.secret("Choose a password: ")
                var enrollment = try TOTPEnrollment(issuer: "PHIGuard Portal", accountName: user)
                print("Add this to your authenticator app (shown once; it is your second factor):")
                print(try enrollment.uri.revealString())
                if isatty(STDOUT_FILENO) == 1 { print(try enrollment.terminalQRCode().render()) }
                fflush(nil)  // the prompt below reads stdin: show the URI first
                let code = try PortalInput.line("Code from your authenticator: ")
                guard try enrollment.confirm(code), let step = enrollment.lastAcceptedStep else {
                    throw AuthenticationError.rejected
                }
                let created = try await services.flow.completeRegistration(
                    session, loginName: user, password: password, clientAddress: PortalServices.clientAddress,
                    authenticator: enrollment.totp, confirmationCode: code)
                if let accountID = created {
                    // The confirmation code must not sign in as well: record its step as used.
                    _ = try await services.totpSteps.advance(accountID: accountID, to: step)
                    try await services.audit.append(
                        try .mfa(.mfaEnrolled, userID: accountID, succeeded: true, factor: "totp"))
                }
                services.sessionFile.remove()
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
        abstract: "Sign in: the password (stdin line 1 or a no-echo prompt), then the TOTP code (line 2).")

    @OptionGroup var options: PortalOptions
    @Option(help: "The login name.")
    var user: String

    func run() async throws {
        try await PortalRunner.run(options) { services in
            let previous = try await services.resume()
            let password = try PortalInput.secret("Password: ")
            let progress = try await services.flow.signIn(
                loginName: user, password: password, clientAddress: PortalServices.clientAddress,
                clientLabel: PortalServices.clientLabel, replacing: previous)
            let session: AuthenticatedSession
            switch progress {
            case .authenticated(let signedIn):
                session = signedIn
            case .awaitingSecondFactor(let pending):
                // The pending session (no principal) is the cookie until the code is checked.
                try services.sessionFile.write(pending.token.cookieValue)
                let code = try PortalInput.line("Authenticator code: ")
                session = try await services.flow.verifySecondFactor(
                    pending, .totp(code), clientAddress: PortalServices.clientAddress)
            }
            try services.sessionFile.write(session.token.cookieValue)
            print("Signed in (session \(session.record.handle), \(session.principal.strength.rawValue)).")
        }
    }
}

/// `chart`: reads a chart through the access engine, audited before any PHI is decrypted.
struct ChartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chart",
        abstract: "Show a chart (your own by default): only the fields the policy lets you see.")

    @OptionGroup var options: PortalOptions
    @Option(help: "The patient id (default: the patient you are).")
    var patient: String?

    func run() async throws {
        try await PortalRunner.run(options) { services in
            let resumed = try await services.resume()
            guard case .authenticated(let session) = resumed else {
                try await Self.auditRefusal(of: resumed, patient: patient, in: services)
                throw PortalError.notSignedIn
            }
            let principal = session.principal
            // Ids that cannot even be audited (free text) cannot name a chart either.
            guard let patientID = patient ?? principal.subject.patientID, AuditIdentifier.isValid(patientID) else {
                throw ResourceNotFound(resourceType: "chart")
            }
            // Decision → audit (committed, fail closed) → decrypt only the allowed fields: one call.
            // No such chart and "not yours" are one answer (IDOR); only the audit log tells them apart.
            let chart: GuardedRecord
            do {
                chart = try await services.charts.read(patientID, as: principal)
            } catch RecordError.notFoundOrDenied {
                throw ResourceNotFound(resourceType: "chart", id: patientID)
            }
            let fields = PortalDatabase.chartFields.filter { chart[$0] != nil }
            print("Chart \(patientID) (fields the policy allows you: \(fields.joined(separator: ", ")))")
            for field in fields { print("  \(field): \(chart[field] ?? "")") }
        }
    }

    /// Records a chart request from a session without a principal (registering, awaiting the second
    /// factor) as a denied access: the OpenEMR CVE-2018-15152 path, tried and refused.
    static func auditRefusal(of resumed: ResumedSession, patient: String?, in services: PortalServices) async throws {
        let handle: String
        switch resumed {
        case .registering(let session): handle = session.record.handle
        case .awaitingSecondFactor(let session): handle = session.record.handle
        case .recovering(let session): handle = session.record.handle
        case .anonymous, .authenticated: return
        }
        let target = patient.flatMap { AuditIdentifier.isValid($0) ? $0 : nil }
        try await services.audit.append(
            try AuditEvent(
                kind: .accessDecision, timestamp: AuditEvent.timestamp(for: services.engine.clock.now),
                sessionID: handle,
                action: "read", resourceType: "chart", resourceID: target, patientID: target, outcome: .deny,
                reason: "no-principal-\(resumed.state?.rawValue ?? "anonymous")"))
    }
}

/// `sessions`: the signed-in user's sessions.
struct SessionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sessions", abstract: "List your sessions.")

    @OptionGroup var options: PortalOptions

    func run() async throws {
        try await PortalRunner.run(options) { services in
            guard case .authenticated(let session) = try await services.resume() else { throw PortalError.notSignedIn }
            for summary in try await services.flow.sessions(of: session) {
                print(
                    "\(summary.isCurrent ? "*" : " ") \(summary.handle)  created \(summary.createdAt.formatted(.iso8601))"
                        + "  last used \(summary.lastSeenAt.formatted(.iso8601))"
                        + "  expires \(summary.expiresAt.formatted(.iso8601))  \(summary.clientLabel ?? "")")
            }
        }
    }
}

/// `whoami`: who the session file's session belongs to.
struct WhoamiCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "whoami", abstract: "Show who you are signed in as.")

    @OptionGroup var options: PortalOptions

    func run() async throws {
        try await PortalRunner.run(options) { services in
            let resumed = try await services.resume()
            guard case .authenticated(let session) = resumed else {
                if let state = resumed.state { print("Session state: \(state.rawValue) (no principal).") }
                throw PortalError.notSignedIn
            }
            let subject = session.principal.subject
            let name = try await services.database.loginName(accountID: subject.id) ?? "?"
            print("Signed in as \(name) (account \(subject.id))")
            print("  roles: \(subject.roles.joined(separator: ", "))")
            if let patientID = subject.patientID { print("  patient: \(patientID)") }
            print("  session: \(session.record.handle), \(session.principal.strength.rawValue)")
            print("  expires: \(session.principal.validUntil.formatted(.iso8601))")
        }
    }
}

/// `logout`: ends the session (whatever its state) and deletes the session file.
struct LogoutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logout", abstract: "Sign out.")

    @OptionGroup var options: PortalOptions

    func run() async throws {
        try await PortalRunner.run(options) { services in
            let resumed = try await services.resume()
            try await services.flow.end(resumed)
            services.sessionFile.remove()
            print(resumed.state == nil ? "No session." : "Signed out.")
        }
    }
}
