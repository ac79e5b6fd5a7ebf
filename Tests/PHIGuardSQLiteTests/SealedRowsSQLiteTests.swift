import Foundation
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardAuthentication
import PHIGuardFieldEncryption
import PHIGuardPasswords
import PHIGuardRateLimit
import PHIGuardSQLite
import PHIGuardTOTP
import PHIGuardTesting
import SQLiteNIO
import Testing

/// Issue #15 finding 3 on a real SQLite file: rows edited through a second connection (as an SQL
/// injection elsewhere in the app, or a doctored backup, would) are refused and audited.
@Suite("Sealed rows on SQLite")
struct SealedRowsSQLiteTests {
    static let password = "correct horse battery staple"
    static let address = "192.0.2.10"

    /// Everything one portal process would open over one database file.
    struct World {
        let path: String
        let clock = ManualClock()
        let sealing: RowSealingKey
        let encryptor: FieldEncryptor
        let sessions: SQLiteSessionStore
        let accounts: SQLiteAccountDirectory
        let careTeams: SQLiteCareTeamStore
        let hasher: PasswordHasher
        let sink = RecordingAuditSink()
        let log: AuditLog
        let flow: LoginFlow

        init(path: String) async throws {
            self.path = path
            sealing = try RowSealingKey.generate()
            encryptor = FieldEncryptor(keyring: try Keyring(active: try FieldKey.generate(id: "k1")))
            sessions = try await SQLiteSessionStore.open(path: path)
            accounts = try await SQLiteAccountDirectory.open(path: path, sealingKey: sealing, encryptor: encryptor)
            careTeams = try await SQLiteCareTeamStore.open(path: path, sealingKey: sealing)
            hasher = try PasswordHasher(
                configuration: .init(parameters: try Argon2Parameters(memoryKiB: 4_096, iterations: 1, parallelism: 1)))
            log = try await AuditLog(
                sink: sink, chainKey: try AuditChainKey.generate(), signingKey: try AuditSigningKey.generate())
            let clock = clock
            flow = try LoginFlow(
                accounts: accounts, sessions: sessions, passwords: hasher,
                totp: try TOTPVerifier(replayStore: InMemoryTOTPReplayStore(), lockout: nil),
                throttle: InMemoryLockoutStore(clock: clock),
                rateLimiter: RateLimiter(store: try InMemoryRateLimitStore(clock: clock)), audit: log, clock: clock,
                sealingKey: sealing, careTeams: careTeams)
        }

        /// An account made through the directory, then given roles, a patient link and attributes.
        func account(
            _ name: String, roles: [String], patientID: String?, attributes: [String: String] = [:]
        ) async throws -> (id: String, totp: TOTP) {
            let totp = TOTP(secret: try TOTPSecret())
            let id = try #require(
                try await accounts.createAccount(
                    loginName: try LoginName(name), passwordHash: try await hasher.hash(SealedRowsSQLiteTests.password),
                    totp: totp))
            try await accounts.setRoles(roles, accountID: id)
            try await accounts.setPatientID(patientID, accountID: id)
            try await accounts.setAttributes(attributes, accountID: id)
            return (id, totp)
        }

        /// Password, then the TOTP code: a complete sign-in (the clock moves on a step, so codes never replay).
        func signIn(_ name: String, _ totp: TOTP) async throws -> AuthenticatedSession {
            clock.advance(by: .seconds(30))
            guard
                case .awaitingSecondFactor(let pending) = try await flow.signIn(
                    loginName: name, password: SealedRowsSQLiteTests.password,
                    clientAddress: SealedRowsSQLiteTests.address)
            else { throw WorldError.unexpectedState }
            return try await flow.verifySecondFactor(
                pending, .totp(try totp.code(at: clock.now)), clientAddress: SealedRowsSQLiteTests.address)
        }

        /// Runs `sql` through a second connection to the file, as an attacker with write access would.
        func tamper(_ sql: String) async throws {
            let connection = try await SQLiteConnection.open(storage: .file(path: path))
            _ = try await connection.query(sql, [])
            try await connection.close()
        }

        func events() async throws -> [AuditEvent] {
            try await log.flush()
            return try await sink.entries(from: 0, limit: 10_000).compactMap { entry -> AuditEvent? in
                if case .record(let record) = entry { record.event } else { nil }
            }
        }

        func close() async throws {
            try await log.close()
            try await sessions.close()
            try await accounts.close()
            try await careTeams.close()
        }
    }

    enum WorldError: Error { case unexpectedState }

    func withWorld(_ body: (World) async throws -> Void) async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sealed-\(UUID()).sqlite").path
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        let world = try await World(path: path)
        do {
            try await body(world)
        } catch {
            try? await world.close()
            throw error
        }
        try await world.close()
    }

    static let sessionEdits = [
        "UPDATE phiguard_sessions SET patient_id = 'p-victim'",
        "UPDATE phiguard_sessions SET roles = '[\"physician\"]'",
        "UPDATE phiguard_sessions SET account_id = 'a-victim'",
        "UPDATE phiguard_sessions SET strength = 'multi-factor', recently_authenticated_at = recently_authenticated_at + 3600000000",
        "UPDATE phiguard_sessions SET attributes = '{\"clearance\":\"high\"}'",
        "UPDATE phiguard_sessions SET seal = NULL",
    ]

    @Test(
        "a session row edited through a second connection is refused at the next request and audited",
        arguments: sessionEdits)
    func editedSession(sql: String) async throws {
        try await withWorld { world in
            let patient = try await world.account("pat", roles: ["patient"], patientID: "p-1")
            let session = try await world.signIn("pat", patient.totp)
            #expect(try await world.flow.resume(session.token.cookieValue).principal?.subject.patientID == "p-1")

            try await world.tamper(sql)

            #expect(try await world.flow.resume(session.token.cookieValue).principal == nil)
            #expect(try await world.sessions.session(tokenHash: session.token.hash) == nil, "removed")
            let tampering = try await world.events().filter { $0.kind == .tamperDetected }
            #expect(tampering.count == 1)
            #expect(tampering.first?.resourceType == "phiguard_sessions")
            #expect(tampering.first?.resourceID == session.record.handle)
        }
    }

    static let accountEdits = [
        "UPDATE phiguard_accounts SET roles = '[\"physician\"]'",
        "UPDATE phiguard_accounts SET patient_id = 'p-victim'",
        "UPDATE phiguard_accounts SET attributes = '{\"department\":\"oncology\"}'",
        "UPDATE phiguard_accounts SET disabled = 1",
        "UPDATE phiguard_accounts SET password_hash = password_hash || 'x'",
        "UPDATE phiguard_accounts SET totp_secret = NULL, totp_parameters = NULL",
        "UPDATE phiguard_accounts SET seal = NULL",
    ]

    @Test(
        "an account row edited through a second connection: the sign-in fails like a wrong password and is audited as tampering",
        arguments: accountEdits)
    func editedAccount(sql: String) async throws {
        try await withWorld { world in
            let patient = try await world.account("pat", roles: ["patient"], patientID: "p-1")
            _ = try await world.signIn("pat", patient.totp)  // honest rows sign in

            try await world.tamper(sql)

            world.clock.advance(by: .seconds(30))
            await #expect(throws: AuthenticationError.rejected) {
                _ = try await world.flow.signIn(loginName: "pat", password: Self.password, clientAddress: Self.address)
            }
            let events = try await world.events()
            #expect(events.filter { $0.kind == .tamperDetected && $0.resourceType == "phiguard_accounts" }.count == 1)
            #expect(events.contains { $0.kind == .loginFailed && $0.reason == "tampered-record" })
            // The directory refuses the row itself, and an administrator's change does not launder it.
            await #expect(throws: AccountDirectoryError.self) { _ = try await world.accounts.account(id: patient.id) }
            await #expect(throws: AccountDirectoryError.self) {
                try await world.accounts.setRoles(["patient"], accountID: patient.id)
            }
        }
    }

    @Test("an account row moved to another id (its columns copied over another account's) is refused")
    func copiedAccountRow() async throws {
        try await withWorld { world in
            let admin = try await world.account("admin", roles: ["administrator"], patientID: nil)
            let mallory = try await world.account("mallory", roles: ["patient"], patientID: "p-2")
            try await world.tamper(
                """
                UPDATE phiguard_accounts SET (roles, patient_id, seal) =
                (SELECT roles, patient_id, seal FROM phiguard_accounts WHERE id = '\(admin.id)')
                WHERE id = '\(mallory.id)'
                """)
            await #expect(throws: AuthenticationError.rejected) {
                _ = try await world.signIn("mallory", mallory.totp)
            }
        }
    }

    @Test(
        "a care-team row edited through a second connection grants nothing and is audited; a change by another connection counts at the next request"
    )
    func careTeams() async throws {
        try await withWorld { world in
            let nurse = try await world.account("nurse", roles: ["clinician"], patientID: nil)
            try await world.careTeams.add(memberID: nurse.id, patientID: "p-1")
            let session = try await world.signIn("nurse", nurse.totp)
            #expect(session.principal.subject.careTeamPatients == ["p-1"])

            // Another process adds a membership: the next request sees it, no reload.
            let other = try await SQLiteCareTeamStore.open(path: world.path, sealingKey: world.sealing)
            try await other.add(memberID: nurse.id, patientID: "p-3")
            try await other.close()
            var principal = try #require(try await world.flow.resume(session.token.cookieValue).principal)
            #expect(principal.subject.careTeamPatients == ["p-1", "p-3"])

            try await world.tamper("UPDATE phiguard_care_teams SET patient_id = 'p-victim' WHERE patient_id = 'p-1'")
            principal = try #require(try await world.flow.resume(session.token.cookieValue).principal)
            #expect(principal.subject.careTeamPatients == [])
            let tampering = try await world.events().filter { $0.kind == .tamperDetected }
            #expect(tampering.map(\.resourceType) == ["phiguard_care_teams"])
            await #expect(throws: CareTeamStoreError.self) {
                _ = try await world.careTeams.patients(ofMember: nurse.id)
            }

            // A membership row moved to another member is refused too.
            try await world.careTeams.remove(memberID: nurse.id, patientID: "p-victim")
            try await world.careTeams.add(memberID: "a-someone", patientID: "p-5")
            try await world.tamper(
                "UPDATE phiguard_care_teams SET member_id = '\(nurse.id)' WHERE member_id = 'a-someone'")
            await #expect(throws: CareTeamStoreError.self) {
                _ = try await world.careTeams.patients(ofMember: nurse.id)
            }
        }
    }

    @Test("session rows written before sealing (a table without the seal column) are refused after the upgrade")
    func preSealingRowsRefused() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("old-\(UUID()).sqlite").path
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255) }
        let cookie = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        let token = try #require(SessionToken(cookieValue: cookie))
        let hex = token.hash.bytes.map { String(format: "%02x", $0) }.joined()
        let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
        let connection = try await SQLiteConnection.open(storage: .file(path: path))
        _ = try await connection.query(
            """
            CREATE TABLE phiguard_sessions (
                token_hash BLOB PRIMARY KEY NOT NULL CHECK (length(token_hash) = 32),
                handle TEXT NOT NULL UNIQUE, state TEXT NOT NULL, account_id TEXT, roles TEXT NOT NULL,
                patient_id TEXT, strength TEXT, created_at INTEGER NOT NULL, last_seen_at INTEGER NOT NULL,
                idle_expires_at INTEGER NOT NULL, absolute_expires_at INTEGER NOT NULL, authenticated_at INTEGER,
                recently_authenticated_at INTEGER, client_label TEXT)
            """, [])
        _ = try await connection.query(
            """
            INSERT INTO phiguard_sessions VALUES (X'\(hex)', 's-00000000000000000000000000000001', 'authenticated',
            'a-1', '["physician"]', 'p-1', 'multi-factor', \(now), \(now), \(now + 600_000_000),
            \(now + 3_600_000_000), \(now), \(now), NULL)
            """, [])
        try await connection.close()

        let sessions = try await SQLiteSessionStore.open(path: path)
        let stored = try #require(try await sessions.session(tokenHash: token.hash))
        #expect(stored.seal == nil && stored.attributes.isEmpty)
        let flow = try LoginFlow(
            accounts: InMemoryAccountDirectory(), sessions: sessions,
            passwords: try PasswordHasher(
                configuration: .init(parameters: try Argon2Parameters(memoryKiB: 4_096, iterations: 1, parallelism: 1))),
            totp: try TOTPVerifier(replayStore: InMemoryTOTPReplayStore(), lockout: nil),
            sealingKey: try RowSealingKey.generate())
        #expect(try await flow.resume(token.cookieValue).principal == nil)
        #expect(try await sessions.session(tokenHash: token.hash) == nil)
        try await sessions.close()
    }

    @Test("without a sealing key, a LoginFlow over the SQLite session store refuses to start")
    func keyRequired() async throws {
        let sessions = try await SQLiteSessionStore.inMemory()
        #expect(throws: LoginConfigurationError.sealingKeyRequired) {
            _ = try LoginFlow(
                accounts: InMemoryAccountDirectory(), sessions: sessions,
                passwords: try PasswordHasher(),
                totp: try TOTPVerifier(replayStore: InMemoryTOTPReplayStore(), lockout: nil))
        }
        try await sessions.close()
    }

    @Test("the SQLite account directory and care-team store pass the conformance suites (two connections on one file)")
    func conformance() async throws {
        try await withWorld { world in
            let second = try await SQLiteAccountDirectory.open(
                path: world.path, sealingKey: world.sealing, encryptor: world.encryptor)
            try await AccountDirectoryConformance.check(world.accounts, second: second)
            try await second.close()
            let otherTeams = try await SQLiteCareTeamStore.open(path: world.path, sealingKey: world.sealing)
            try await CareTeamStoreConformance.check(world.careTeams, second: otherTeams)
            try await otherTeams.close()
        }
    }

    @Test("the TOTP secret is stored as an envelope bound to its row: copied to another account it does not decrypt")
    func totpSecretEncrypted() async throws {
        try await withWorld { world in
            let alice = try await world.account("alice", roles: ["patient"], patientID: "p-1")
            let connection = try await SQLiteConnection.open(storage: .file(path: world.path))
            let rows = try await connection.query(
                "SELECT totp_secret FROM phiguard_accounts WHERE id = ?", [.text(alice.id)])
            try await connection.close()
            let stored = try #require(rows.first?.column("totp_secret")?.string)
            #expect(stored.hasPrefix("phgf:"))
            #expect(!stored.contains(alice.totp.secret.revealBase32()))
        }
    }
}
