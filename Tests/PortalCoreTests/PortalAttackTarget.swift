import Foundation
import Logging
import PHIGuardAttackSuite
import PHIGuardAudit
import PHIGuardAuthentication
import PHIGuardCrypto
import PHIGuardErrors
import PHIGuardPasswords
import PHIGuardRecords
import PHIGuardSQLite
import PHIGuardTOTP
import PHIGuardTestSupport
import PostgresNIO
import Synchronization

@testable import PortalCore

/// The complete portal (`PortalCore.Portal`, the layer the CLI and a web front end call) as the
/// attack suite's target: a real SQLite file (or a PostgreSQL database of its own) and key directory in a temporary directory, seeded
/// with the demo hospital (a few patients), a `ManualClock` given through `PortalConfiguration`.
///
/// Capabilities are exactly what the portal has: registration (with TOTP enrolled at sign-up: the
/// target keeps each new account's authenticator to pass its second factor), password recovery (the
/// link goes to an outbox standing in for e-mail), password change, chart update, patient listing,
/// break-glass, clock control (its configuration takes the clock), audit verification (as
/// `phiguard audit verify` does it: chain and stored checkpoints) and storage (its one SQLite file).
/// It has no record delete and no way to reset its throttles, so those are not declared. Refusals are what a user sees: `ErrorReporter.report`
/// (PHIGuardErrors' public mapping), as the `PatientPortal` CLI shows every failure.
final class PortalAttackTarget: AttackTarget {
    static let password = "riverside-attack-password-5713"
    /// Logs only critical lines: the suite provokes thousands of refusals on purpose.
    static let quiet: Logger = {
        var logger = Logger(label: "portal-attack-target")
        logger.logLevel = .critical
        return logger
    }()

    let capabilities: Set<AttackCapability> = [
        .registration, .passwordRecovery, .passwordChange, .recordUpdate, .recordList, .breakGlass, .clockControl,
        .auditVerification, .storage, .search, .export,
    ]
    /// The authenticators enrolled at the suite's sign-ups, by login name.
    let registered = Mutex<[String: TOTP]>([:])
    /// The recovery links the portal handed to the out-of-band channel, by account id (the last one).
    let outbox = Mutex<[String: String]>([:])
    /// The flawed variant (attack 10 must catch it): exports write wherever the path says, following
    /// `..`, absolute paths and symbolic links (never over an existing file, so a run cannot clobber one).
    let flawedExport: Bool
    /// The export folder (`exports` in the temporary directory).
    let exportDirectory: String
    let fixture: AttackFixture
    let directory: URL
    let clock = ManualClock(Date(timeIntervalSince1970: 1_800_000_000))
    let portal: Portal
    let keys: PortalKeys
    let reporter = ErrorReporter(logger: quiet)
    let attackStorage: any AttackStorage
    /// The PostgreSQL database (dropped by ``close()``) and the attacker's own client and its runner.
    let postgres: (database: PortalTestDatabase, runner: Task<Void, Never>)?

    var storage: (any AttackStorage)? { attackStorage }

    /// Opens and seeds a portal in a fresh temporary directory (``close()`` deletes it): on an
    /// SQLite file there, or with `onPostgres` in a fresh PostgreSQL database of its own, tampered
    /// with through a `PostgresAttackStorage` on a client of the attacker's own. `flawedExport`:
    /// the flawed variant attack 10 must catch.
    init(patientCount: Int = 12, onPostgres: Bool = false, flawedExport: Bool = false) async throws {
        self.flawedExport = flawedExport
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "portal-attacks-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        exportDirectory = directory.appendingPathComponent("exports").path
        try FileManager.default.createDirectory(atPath: exportDirectory, withIntermediateDirectories: true)
        let keyDirectory = directory.appendingPathComponent("keys").path
        let database = onPostgres ? try await PortalTestDatabase.create() : nil
        portal = try await Portal.open(
            PortalConfiguration(
                databasePath: directory.appendingPathComponent("portal.sqlite").path, keyDirectory: keyDirectory,
                policyPath: Fixture.repositoryRoot.appendingPathComponent("Examples/Policies/hospital.yaml").path,
                databaseURL: database?.url, clock: clock, logger: Self.quiet),
            creating: true)
        keys = try PortalKeys(directory: keyDirectory)
        try await portal.seed(password: Self.password, patientCount: patientCount)
        let chart = portal.charts.schema
        let records = [
            "chart": AttackRecordTable(
                table: chart.table, idColumn: chart.recordIDColumn,
                encryptedColumns: chart.fields.filter { $0.storage == .encrypted }.map(\.column))
        ]
        if let database {
            let client = try PortalTestDatabase.client(url: database.url)
            postgres = (database, Task { await client.run() })
            attackStorage = PostgresAttackStorage(
                client: client, layout: .phiguardPostgres(records: records),
                dataDirectory: ProcessInfo.processInfo.environment["PHIGUARD_TEST_POSTGRES_DATA"])
        } else {
            postgres = nil
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
            plaintextSecrets: secrets + [Self.password])
    }

    func close() async {
        try? await (attackStorage as? SQLiteAttackStorage)?.close()
        try? await portal.close()
        if let postgres {
            postgres.runner.cancel()
            await postgres.database.drop()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: Answers as a user sees them

    private func refusal(_ error: any Error) -> AttackRefusal {
        let shown = reporter.report(error)
        return AttackRefusal(
            status: shown.status, message: "\(shown.problem.title): \(shown.problem.detail)",
            reference: shown.correlationID.description)
    }

    // MARK: AttackTarget

    func signIn(loginName: String, password: String, clientAddress: String, presenting presented: AttackSession?)
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

    func sendSecondFactorCode(_ code: String, session: AttackSession, clientAddress: String) async throws
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
    func currentSecondFactorCode(for account: AttackAccount) async throws -> String {
        clock.advance(by: .seconds(30))
        return try await portal.demoCode(loginName: account.loginName)
    }

    func perform(_ operation: RecordOperation, as session: AttackSession) async throws -> AttackResponse {
        do {
            switch operation {
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
    func search(type: String, term: String, as session: AttackSession) async throws -> AttackResponse {
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

    func signOut(_ session: AttackSession) async throws {
        try await portal.signOut(token: session.token)
    }

    func beginRegistration(clientAddress: String) async throws -> AttackSession {
        AttackSession(token: try await portal.beginRegistration())
    }

    /// The portal's sign-up takes no patient id at all (a hostile `claimedPatientID` has nowhere to go:
    /// the server creates the patient and links it). It enrols TOTP, as the CLI does by default.
    func completeRegistration(
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
    func secondFactorCode(forRegistered loginName: String) async throws -> String? {
        guard let totp = registered.withLock({ $0[loginName] }) else { return nil }
        clock.advance(by: .seconds(30))
        return try totp.code(at: clock.now)
    }

    /// The portal's answer is the same for every name (it returns nothing); the link, for an active
    /// account, goes to the outbox.
    func requestPasswordRecovery(loginName: String, clientAddress: String) async throws -> AttackResponse {
        do {
            try await portal.requestPasswordRecovery(loginName: loginName, clientAddress: clientAddress) { message in
                outbox.withLock { $0[message.accountID] = message.link }
            }
            return .allowed(values: [:])
        } catch {
            return .refused(refusal(error))
        }
    }

    /// What the recovery e-mail to `account` held: the last link in the outbox for its account id.
    func openRecoveryLink(for account: AttackAccount) async throws -> AttackSession? {
        guard let found = try await portal.accounts.account(loginName: try LoginName(account.loginName)) else {
            return nil
        }
        return outbox.withLock { $0[found.id] }.map { AttackSession(token: $0) }
    }

    func changePassword(_ session: AttackSession, current: String, new: String) async throws -> SignInOutcome {
        do {
            let token = try await portal.changePassword(
                token: session.token, current: try PasswordSecret(current), new: try PasswordSecret(new))
            return .authenticated(AttackSession(token: token))
        } catch {
            return .refused(refusal(error))
        }
    }

    /// The suite's reason is free text; the portal takes an HL7 purpose-of-use code (ETREAT: emergency treatment).
    func breakGlass(patientID: String, reason: String, justification: String, as session: AttackSession)
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

    func advanceClock(by duration: Duration) async throws { clock.advance(by: duration) }

    /// As `phiguard audit verify --sqlite|--postgres … --keys … --witness …` does it: the chain, the stored
    /// checkpoints and the portal's checkpoint witness file.
    func verifyAuditLog() async throws -> Bool {
        try await portal.audit.flush()
        let checkpoints = try await portal.auditSink.checkpoints() + (try await portal.auditWitness.checkpoints())
        return try await AuditVerifier(chainKey: keys.chainKey, checkpointKey: portal.audit.checkpointPublicKey)
            .verify(portal.auditSink, checkpoints: checkpoints).isIntact
    }
}

// MARK: Export (attack 10)

extension PortalAttackTarget {
    var exportFolder: String? { exportDirectory }

    func export(type: String, id: String, to path: String, as session: AttackSession) async throws -> AttackResponse {
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
