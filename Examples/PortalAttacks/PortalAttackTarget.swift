public import Foundation
internal import Logging
public import PHIGuardAttackSuite
internal import PHIGuardAuthentication
public import PHIGuardCrypto
internal import PHIGuardErrors
internal import PHIGuardPasswords
internal import PHIGuardTOTP
public import PortalCore
public import PostgresNIO
internal import Synchronization

/// The complete portal (`PortalCore.Portal`, the layer the CLI and a web front end call) as the
/// attack suite's target: a real SQLite file (or a PostgreSQL database the caller made for it) and key
/// directory in a temporary directory, seeded with the demo hospital (a few patients), a `ManualClock`
/// given through `PortalConfiguration`. `PortalCoreTests` and `PatientPortal attack-suite` run it.
///
/// Capabilities are exactly what the portal has: registration (with TOTP enrolled at sign-up: the
/// target keeps each new account's authenticator to pass its second factor), password recovery (the
/// link goes to an outbox standing in for e-mail), password change, chart update, patient listing,
/// break-glass, clock control (its configuration takes the clock), audit verification (as
/// `phiguard audit verify` does it: chain and stored checkpoints) and storage (its one SQLite file).
/// It has no record delete and no way to reset its throttles, so those are not declared. Refusals are what a user sees: `ErrorReporter.report`
/// (PHIGuardErrors' public mapping), as the `PatientPortal` CLI shows every failure.
public final class PortalAttackTarget: AttackTarget {
    /// The password of every seeded account.
    public static let password = "riverside-attack-password-5713"
    /// Logs only critical lines: the suite provokes thousands of refusals on purpose.
    static let quiet: Logger = {
        var logger = Logger(label: "portal-attack-target")
        logger.logLevel = .critical
        return logger
    }()

    /// What the portal has (everything but record delete and throttle reset).
    public let capabilities: Set<AttackCapability> = [
        .registration, .passwordRecovery, .passwordChange, .recordUpdate, .recordList, .breakGlass, .clockControl,
        .auditVerification, .storage, .search, .export, .listParameters, .faults,
    ]
    /// The authenticators enrolled at the suite's sign-ups, by login name.
    let registered = Mutex<[String: TOTP]>([:])
    /// The recovery links the portal handed to the out-of-band channel, by canonical login name (the
    /// last one; the portal delivers only for the account that name resolves to).
    let outbox = Mutex<[String: String]>([:])
    /// The flawed variant (attack 10 must catch it): exports write wherever the path says, following
    /// `..`, absolute paths and symbolic links (never over an existing file, so a run cannot clobber one).
    public let flawedExport: Bool
    /// The export folder (`exports` in the temporary directory).
    public let exportDirectory: String
    /// The seeded accounts and records the scenarios use.
    public let fixture: AttackFixture
    /// The temporary directory holding everything (deleted by ``close()``).
    public let directory: URL
    /// The portal's clock (the suite moves it to expire sessions, grants and throttles).
    public let clock = ManualClock(Date(timeIntervalSince1970: 1_800_000_000))
    /// The portal under attack.
    public let portal: Portal
    let reporter = ErrorReporter(logger: quiet)
    /// The attacker's own way into the stored bytes (the SQLite file, or the PostgreSQL client given).
    public let attackStorage: any AttackStorage
    /// The policy file the portal runs (a fault's second portal opens the same one).
    let policyPath: String
    /// The PostgreSQL database's URL, if the portal runs on one.
    let postgresURL: String?
    /// The runner of the PostgreSQL client given to ``init(policyPath:patientCount:postgres:flawedExport:)``.
    let postgresRunner: Task<Void, Never>?

    /// The attacker's own way into the stored bytes.
    public var storage: (any AttackStorage)? { attackStorage }

    /// A PostgreSQL database for the portal, made by the caller (tests make a fresh one per run and
    /// drop it after ``close()``), and the attacker's own client of it (not yet running: the target runs it).
    public struct PostgresDatabase: Sendable {
        /// The database's URL (`PortalConfiguration.databaseURL`).
        public let url: String
        /// A client of the same database, for the tampering scenarios (`PostgresAttackStorage`).
        public let client: PostgresClient
        /// The server's data directory, when the caller can read it (a throwaway test server): attack 16
        /// then scans its relation files and WAL; `nil` makes attack 16 not applicable.
        public let dataDirectory: String?

        /// A database, a client of it and, optionally, the server's data directory.
        public init(url: String, client: PostgresClient, dataDirectory: String? = nil) {
            self.url = url
            self.client = client
            self.dataDirectory = dataDirectory
        }
    }

    /// Opens and seeds a portal in a fresh temporary directory (``close()`` deletes it) with the
    /// policy at `policyPath` (`Examples/Policies/hospital.yaml`): on an SQLite file there, or with
    /// `postgres` in that database, tampered with through a `PostgresAttackStorage` on its client.
    /// `flawedExport`: the flawed variant attack 10 must catch (tests and demos only).
    public init(
        policyPath: String, patientCount: Int = 12, postgres database: PostgresDatabase? = nil,
        flawedExport: Bool = false
    ) async throws {
        self.flawedExport = flawedExport
        self.policyPath = policyPath
        postgresURL = database?.url
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "portal-attacks-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        exportDirectory = directory.appendingPathComponent("exports").path
        try FileManager.default.createDirectory(atPath: exportDirectory, withIntermediateDirectories: true)
        let keyDirectory = directory.appendingPathComponent("keys").path
        portal = try await Portal.open(
            PortalConfiguration(
                databasePath: directory.appendingPathComponent("portal.sqlite").path, keyDirectory: keyDirectory,
                policyPath: policyPath,
                databaseURL: database?.url, clock: clock, logger: Self.quiet),
            creating: true)
        try await portal.seed(password: Self.password, patientCount: patientCount)
        let chart = portal.chartStorage
        let records = [
            "chart": AttackRecordTable(
                table: chart.table, idColumn: chart.recordIDColumn, encryptedColumns: chart.encryptedColumns)
        ]
        if let database {
            let client = database.client
            postgresRunner = Task { await client.run() }
            attackStorage = PostgresAttackStorage(
                client: client, layout: .phiguardPostgres(records: records), dataDirectory: database.dataDirectory)
        } else {
            postgresRunner = nil
            attackStorage = try await SQLiteAttackStorage.open(
                path: portal.databaseFilePath, layout: .phiguard(records: records))
        }

        func account(_ name: String) -> AttackAccount {
            AttackAccount(loginName: name, password: Self.password, hasSecondFactor: true)
        }
        // What the seed wrote in clear before sealing it: names, SSNs, MRNs, addresses of p-1 and p-2.
        let seeded = PortalSeed.patients(count: 2)
        let secrets = seeded.flatMap { patient in
            [patient.index["name"], patient.index["ssn"], patient.index["mrn"], patient.chart["contact"]].compactMap {
                $0
            }
        }
        fixture = AttackFixture(
            // alice is patient p-1; the chart id is the patient id.
            patient: account("alice"), ownRecord: AttackRecord(type: "chart", id: "p-1", patientID: "p-1"),
            otherRecord: AttackRecord(type: "chart", id: "p-2", patientID: "p-2"), clinicalField: "medications",
            // dr.grey's care team holds p-1 and p-2; dr.shaw (physician, may break the glass) neither.
            clinician: account("dr.grey"), emergencyUser: account("dr.shaw"), adminClinician: account("dr.admin"),
            bruteForceVictim: account("carol"), oracleAccounts: [account("desk.dan"), account("bill.bea")],
            plaintextSecrets: secrets + [Self.password],
            // Attack 7 also asks for bob's (p-2) seeded note and message, in every spelling.
            otherRecords: [
                AttackRecord(type: "note", id: "note-p-2-1", patientID: "p-2"),
                AttackRecord(type: "message", id: "msg-p-2-1", patientID: "p-2"),
            ])
    }

    /// Closes the portal and deletes the temporary directory (a PostgreSQL database given stays: its
    /// maker drops it).
    public func close() async {
        try? await (attackStorage as? SQLiteAttackStorage)?.close()
        try? await portal.close()
        postgresRunner?.cancel()
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: Answers as a user sees them

    /// An error as the user sees it (`ErrorReporter.report`), as the suite's refusal.
    public func refusal(_ error: any Error) -> AttackRefusal {
        let shown = reporter.report(error)
        return AttackRefusal(
            status: shown.status, message: "\(shown.problem.title): \(shown.problem.detail)",
            reference: shown.correlationID.description)
    }

    // MARK: AttackTarget

    /// A note or message as values (what the client is shown of it).
    static func values(of note: PortalNote) -> [String: String] {
        var values = ["id": note.id, "patient": note.patientID]
        values["author"] = note.author
        values["date"] = note.date
        values["body"] = note.body
        return values
    }

    /// `Portal.signIn` (replacing a presented session, as a cookie would).
    public func signIn(loginName: String, password: String, clientAddress: String, presenting presented: AttackSession?)
        async throws -> SignInOutcome
    {
        do {
            switch try await portal.signIn(
                loginName: loginName, password: password, clientAddress: clientAddress, replacing: presented?.token)
            {
            case .signedIn(let token, _): return .authenticated(AttackSession(token: token))
            case .needsSecondFactor(let token): return .secondFactorRequired(AttackSession(token: token))
            }
        } catch {
            return .refused(refusal(error))
        }
    }

    /// `Portal.verifySecondFactor` on the pending session.
    public func sendSecondFactorCode(_ code: String, session: AttackSession, clientAddress: String) async throws
        -> SignInOutcome
    {
        do {
            let signedIn = try await portal.verifySecondFactor(
                token: session.token, code: code, clientAddress: clientAddress)
            return .authenticated(AttackSession(token: signedIn.token))
        } catch {
            return .refused(refusal(error))
        }
    }

    /// The demo authenticator's code after moving the clock 30 s on, so every sign-in gets a fresh code.
    public func currentSecondFactorCode(for account: AttackAccount) async throws -> String {
        clock.advance(by: .seconds(30))
        return try await portal.demoCode(loginName: account.loginName)
    }

    /// A chart, note or message read, a chart update (one field per request), or the patient list; no
    /// record delete.
    public func perform(_ operation: RecordOperation, as session: AttackSession) async throws -> AttackResponse {
        do {
            switch operation {
            case .read("note", let id):
                // A note is read under its patient, as the front ends ask for it (the other patient's).
                return .allowed(
                    values: Self.values(
                        of: try await portal.note(
                            token: session.token, patientID: fixture.otherRecord.patientID, noteID: id)))
            case .read("message", let id):
                return .allowed(values: Self.values(of: try await portal.message(token: session.token, messageID: id)))
            case .read(_, let id):
                let chart = try await portal.chart(token: session.token, patientID: id)
                var values = chart.identity
                for field in chart.fields { values[field.name] = field.value }
                return .allowed(values: values)
            case .update(_, let id, let changes):
                // The portal writes one field per request, as its front ends send them.
                for (field, value) in changes.sorted(by: { $0.key < $1.key }) {
                    try await portal.updateChart(token: session.token, patientID: id, field: field, value: value)
                }
                return .allowed(values: [:])
            case .delete:
                throw AttackTargetError.unsupported("record delete")
            case .list:
                let page = try await portal.listPatients(token: session.token, limit: Portal.maximumPageSize)
                var values: [String: String] = [:]
                for patient in page.patients {
                    values[patient.patientID] = patient.fields.sorted { $0.key < $1.key }.map(\.value).joined(
                        separator: "|")
                }
                return .allowed(values: values)
            }
        } catch let error as AttackTargetError {
            throw error
        } catch {
            return .refused(refusal(error))
        }
    }

    /// The portal's patient search by name (`listPatients(search:)`: a blind-index equality through
    /// `GuardedRecords.list`); values keyed by the patient ids found.
    public func search(type: String, term: String, as session: AttackSession) async throws -> AttackResponse {
        do {
            let page = try await portal.listPatients(
                token: session.token, search: PatientSearch(name: term), limit: Portal.maximumPageSize)
            var values: [String: String] = [:]
            for patient in page.patients { values[patient.patientID] = "" }
            return .allowed(values: values)
        } catch {
            return .refused(refusal(error))
        }
    }

    /// `Portal.signOut`.
    public func signOut(_ session: AttackSession) async throws {
        try await portal.signOut(token: session.token)
    }

    /// `Portal.beginRegistration`: a session with no principal.
    public func beginRegistration(clientAddress: String) async throws -> AttackSession {
        AttackSession(token: try await portal.beginRegistration())
    }

    /// The portal's sign-up takes no patient id at all (a hostile `claimedPatientID` has nowhere to go:
    /// the server creates the patient and links it). It enrols TOTP, as the CLI does by default.
    public func completeRegistration(
        _ session: AttackSession, loginName: String, password: String, claimedPatientID: String?, clientAddress: String
    ) async throws -> AttackResponse {
        do {
            let enrollment = try portal.newEnrollment(loginName: loginName)
            try await portal.completeRegistration(
                token: session.token, loginName: loginName, password: try PasswordSecret(password),
                enrollment: enrollment, code: try enrollment.totp.code(at: clock.now), clientAddress: clientAddress)
            registered.withLock { $0[loginName] = enrollment.totp }
            return .allowed(values: [:])
        } catch {
            return .refused(refusal(error))
        }
    }

    /// The code of the authenticator enrolled at the suite's sign-up, 30 s on (the confirmation code is spent).
    public func secondFactorCode(forRegistered loginName: String) async throws -> String? {
        guard let totp = registered.withLock({ $0[loginName] }) else { return nil }
        clock.advance(by: .seconds(30))
        return try totp.code(at: clock.now)
    }

    /// The portal's answer is the same for every name (it returns nothing); the link, for an active
    /// account, goes to the outbox.
    public func requestPasswordRecovery(loginName: String, clientAddress: String) async throws -> AttackResponse {
        do {
            let canonical = (try? LoginName(loginName).value) ?? loginName
            try await portal.requestPasswordRecovery(loginName: loginName, clientAddress: clientAddress) { message in
                outbox.withLock { $0[canonical] = message.link }
            }
            return .allowed(values: [:])
        } catch {
            return .refused(refusal(error))
        }
    }

    /// What the recovery e-mail to `account` held: the last link in the outbox for its login name.
    public func openRecoveryLink(for account: AttackAccount) async throws -> AttackSession? {
        let canonical = try LoginName(account.loginName).value
        return outbox.withLock { $0[canonical] }.map { AttackSession(token: $0) }
    }

    /// `Portal.changePassword`: this session continues under a new token.
    public func changePassword(_ session: AttackSession, current: String, new: String) async throws -> SignInOutcome {
        do {
            let token = try await portal.changePassword(
                token: session.token, current: try PasswordSecret(current), new: try PasswordSecret(new))
            return .authenticated(AttackSession(token: token))
        } catch {
            return .refused(refusal(error))
        }
    }

    /// The suite's reason is free text; the portal takes an HL7 purpose-of-use code (ETREAT: emergency treatment).
    public func breakGlass(patientID: String, reason: String, justification: String, as session: AttackSession)
        async throws -> AttackResponse
    {
        do {
            _ = try await portal.breakGlass(
                token: session.token, patientID: patientID, reasonCode: "ETREAT", justification: justification)
            return .allowed(values: [:])
        } catch {
            return .refused(refusal(error))
        }
    }

    /// Moves the portal's `ManualClock`.
    public func advanceClock(by duration: Duration) async throws { clock.advance(by: duration) }

    /// As `phiguard audit verify --sqlite|--postgres … --keys … --witness …` does it: the chain, the stored
    /// checkpoints and the portal's checkpoint witness file.
    public func verifyAuditLog() async throws -> Bool {
        try await portal.verifyAuditLogWithKeys().isIntact
    }
}

// MARK: Export (attack 10)

extension PortalAttackTarget {
    /// The export folder (attack 10 plants its link and looks for escapes around it).
    public var exportFolder: String? { exportDirectory }

    /// `Portal.exportChart` into the export folder (or, in the flawed variant, wherever the path says).
    public func export(type: String, id: String, to path: String, as session: AttackSession) async throws
        -> AttackResponse
    {
        do {
            if flawedExport { return try await exportWhereTold(id: id, to: path, as: session) }
            let export = try await portal.exportChart(
                token: session.token, patientID: id, exportDirectory: exportDirectory, output: path)
            return .allowed(values: ["path": export.path])
        } catch {
            return .refused(refusal(error))
        }
    }

    /// The flaw: the guarded read, then `open(O_CREAT)` on the path as given (relative to the
    /// export folder), which walks `..`, takes absolute paths and follows a planted link.
    private func exportWhereTold(id: String, to path: String, as session: AttackSession) async throws
        -> AttackResponse
    {
        let chart = try await portal.chart(token: session.token, patientID: id)
        let full = path.hasPrefix("/") ? path : exportDirectory + "/" + path
        guard !FileManager.default.fileExists(atPath: full) else {
            return .refused(AttackRefusal(status: 409, message: "exists"))
        }
        let file = open(full, O_WRONLY | O_CREAT, 0o600)
        guard file >= 0 else { return .refused(AttackRefusal(status: 500, message: "could not write")) }
        let body = Array(chart.fields.map { "\($0.name): \($0.value)\n" }.joined().utf8)
        _ = body.withUnsafeBytes { write(file, $0.baseAddress, $0.count) }
        Glibc.close(file)
        return .allowed(values: ["path": full])
    }
}
