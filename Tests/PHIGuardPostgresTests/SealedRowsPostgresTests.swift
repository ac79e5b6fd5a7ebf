import Foundation
import Logging
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardAuthentication
import PHIGuardFieldEncryption
import PHIGuardPasswords
import PHIGuardPostgres
import PHIGuardRateLimit
import PHIGuardTOTP
import PHIGuardTesting
import PostgresNIO
import Testing

/// Issue #15 finding 3 on PostgreSQL (over verified TLS, see ``TestDatabase``): rows edited with SQL
/// are refused at the next request and audited; the reference directory and care-team store pass
/// their conformance suites.
@Suite("Sealed rows on PostgreSQL", .enabled(if: TestDatabase.enabled))
struct SealedRowsPostgresTests {
    static let password = "correct horse battery staple"
    static let address = "192.0.2.20"

    static func drop(_ client: PostgresClient, _ tables: String...) async throws {
        for table in tables {
            try await client.query(PostgresQuery(unsafeSQL: "DROP TABLE IF EXISTS \(table)"))
        }
    }

    @Test("The PostgreSQL account directory and care-team store pass the conformance suites (two instances)")
    func conformance() async throws {
        try await TestDatabase.withClient { client in
            try await Self.drop(client, "sealed_conf_accounts", "sealed_conf_teams")
            let sealing = try RowSealingKey.generate()
            let encryptor = FieldEncryptor(keyring: try Keyring(active: try FieldKey.generate(id: "k1")))
            let first = PostgresAccountDirectory(
                client: client, sealingKey: sealing, encryptor: encryptor, table: "sealed_conf_accounts",
                timeout: .seconds(60))
            try await first.migrate()
            try await first.migrate()  // idempotent
            let second = PostgresAccountDirectory(
                client: client, sealingKey: sealing, encryptor: encryptor, table: "sealed_conf_accounts",
                timeout: .seconds(60))
            try await AccountDirectoryConformance.check(first, second: second)
            let teams = PostgresCareTeamStore(
                client: client, sealingKey: sealing, table: "sealed_conf_teams", timeout: .seconds(60))
            try await teams.migrate()
            let otherTeams = PostgresCareTeamStore(
                client: client, sealingKey: sealing, table: "sealed_conf_teams", timeout: .seconds(60))
            try await CareTeamStoreConformance.check(teams, second: otherTeams)
        }
    }

    /// One instance's parts over the test server, with fresh tables.
    struct World {
        let client: PostgresClient
        let clock = ManualClock()
        let sessions: PostgresSessionStore
        let accounts: PostgresAccountDirectory
        let careTeams: PostgresCareTeamStore
        let hasher: PasswordHasher
        let sink = RecordingAuditSink()
        let log: AuditLog
        let flow: LoginFlow

        /// Tables `<prefix>_sessions`, `<prefix>_accounts`, `<prefix>_teams` (one prefix per test: they run in parallel).
        init(client: PostgresClient, prefix: String) async throws {
            self.client = client
            try await SealedRowsPostgresTests.drop(
                client, prefix + "_sessions", prefix + "_accounts", prefix + "_teams")
            let sealing = try RowSealingKey.generate()
            let encryptor = FieldEncryptor(keyring: try Keyring(active: try FieldKey.generate(id: "k1")))
            sessions = PostgresSessionStore(client: client, table: prefix + "_sessions", timeout: .seconds(60))
            try await sessions.migrate()
            accounts = PostgresAccountDirectory(
                client: client, sealingKey: sealing, encryptor: encryptor, table: prefix + "_accounts",
                timeout: .seconds(60))
            try await accounts.migrate()
            careTeams = PostgresCareTeamStore(
                client: client, sealingKey: sealing, table: prefix + "_teams", timeout: .seconds(60))
            try await careTeams.migrate()
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

        func account(_ name: String, roles: [String], patientID: String?) async throws -> (id: String, totp: TOTP) {
            let totp = TOTP(secret: try TOTPSecret())
            let id = try #require(
                try await accounts.createAccount(
                    loginName: try LoginName(name),
                    passwordHash: try await hasher.hash(SealedRowsPostgresTests.password), totp: totp))
            try await accounts.setRoles(roles, accountID: id)
            try await accounts.setPatientID(patientID, accountID: id)
            return (id, totp)
        }

        func signIn(_ name: String, _ totp: TOTP) async throws -> AuthenticatedSession {
            clock.advance(by: .seconds(30))
            guard
                case .awaitingSecondFactor(let pending) = try await flow.signIn(
                    loginName: name, password: SealedRowsPostgresTests.password,
                    clientAddress: SealedRowsPostgresTests.address)
            else { throw WorldError.unexpectedState }
            return try await flow.verifySecondFactor(
                pending, .totp(try totp.code(at: clock.now)), clientAddress: SealedRowsPostgresTests.address)
        }

        /// SQL an attacker with write access would run.
        func tamper(_ sql: String) async throws {
            try await client.query(PostgresQuery(unsafeSQL: sql))
        }

        func tamperEvents() async throws -> [AuditEvent] {
            try await log.flush()
            return try await sink.entries(from: 0, limit: 10_000).compactMap { entry -> AuditEvent? in
                if case .record(let record) = entry, record.event.kind == .tamperDetected { record.event } else { nil }
            }
        }
    }

    enum WorldError: Error { case unexpectedState }

    @Test("Session rows edited with SQL (patient id, roles) are refused at the next request and audited")
    func editedSessions() async throws {
        try await TestDatabase.withClient { client in
            let world = try await World(client: client, prefix: "sealed_s")
            let patient = try await world.account("pat", roles: ["patient"], patientID: "p-1")
            for sql in [
                "UPDATE sealed_s_sessions SET patient_id = 'p-victim'",
                "UPDATE sealed_s_sessions SET roles = ARRAY['physician']",
            ] {
                let session = try await world.signIn("pat", patient.totp)
                #expect(try await world.flow.resume(session.token.cookieValue).principal?.subject.patientID == "p-1")
                try await world.tamper(sql)
                #expect(try await world.flow.resume(session.token.cookieValue).principal == nil, "\(sql)")
                #expect(try await world.sessions.session(tokenHash: session.token.hash) == nil)
            }
            let events = try await world.tamperEvents()
            #expect(events.count == 2)
            #expect(events.allSatisfy { $0.resourceType == "phiguard_sessions" })
            try await world.log.close()
        }
    }

    @Test("Account rows edited with SQL (roles, patient link) fail the sign-in like a wrong password and are audited")
    func editedAccounts() async throws {
        try await TestDatabase.withClient { client in
            let world = try await World(client: client, prefix: "sealed_a")
            let patient = try await world.account("pat", roles: ["patient"], patientID: "p-1")
            let other = try await world.account("pat2", roles: ["patient"], patientID: "p-2")
            _ = try await world.signIn("pat", patient.totp)
            try await world.tamper("UPDATE sealed_a_accounts SET roles = ARRAY['physician'] WHERE id = '\(patient.id)'")
            try await world.tamper("UPDATE sealed_a_accounts SET patient_id = 'p-victim' WHERE id = '\(other.id)'")
            await #expect(throws: AuthenticationError.rejected) { _ = try await world.signIn("pat", patient.totp) }
            await #expect(throws: AuthenticationError.rejected) { _ = try await world.signIn("pat2", other.totp) }
            await #expect(throws: AccountDirectoryError.self) {
                try await world.accounts.setRoles(["patient"], accountID: patient.id)
            }
            let events = try await world.tamperEvents()
            #expect(events.filter { $0.resourceType == "phiguard_accounts" }.count == 2)
            try await world.log.close()
        }
    }

    @Test(
        "A care-team row edited with SQL grants nothing and is audited; a membership added by another instance counts at the next request"
    )
    func editedCareTeam() async throws {
        try await TestDatabase.withClient { client in
            let world = try await World(client: client, prefix: "sealed_c")
            let nurse = try await world.account("nurse", roles: ["clinician"], patientID: nil)
            let session = try await world.signIn("nurse", nurse.totp)
            #expect(session.principal.subject.careTeamPatients == [])
            try await world.careTeams.add(memberID: nurse.id, patientID: "p-1")
            #expect(
                try await world.flow.resume(session.token.cookieValue).principal?.subject.careTeamPatients == ["p-1"])
            try await world.tamper("UPDATE sealed_c_teams SET patient_id = 'p-victim'")
            #expect(try await world.flow.resume(session.token.cookieValue).principal?.subject.careTeamPatients == [])
            #expect(try await world.tamperEvents().map(\.resourceType) == ["phiguard_care_teams"])
            try await world.log.close()
        }
    }

    @Test("A session table from before sealing gains the columns; its rows have no seal")
    func preSealingTable() async throws {
        try await TestDatabase.withClient { client in
            try await Self.drop(client, "sealed_old_sessions")
            try await client.query(
                PostgresQuery(
                    unsafeSQL: """
                        CREATE TABLE sealed_old_sessions (
                            token_hash BYTEA PRIMARY KEY CHECK (length(token_hash) = 32),
                            handle TEXT NOT NULL UNIQUE, state TEXT NOT NULL, account_id TEXT, roles TEXT[] NOT NULL,
                            patient_id TEXT, strength TEXT, created_at BIGINT NOT NULL, last_seen_at BIGINT NOT NULL,
                            idle_expires_at BIGINT NOT NULL, absolute_expires_at BIGINT NOT NULL, authenticated_at BIGINT,
                            recently_authenticated_at BIGINT, client_label TEXT)
                        """))
            try await client.query(
                PostgresQuery(
                    unsafeSQL: """
                        INSERT INTO sealed_old_sessions VALUES (decode(repeat('ab', 32), 'hex'), 's-1', 'authenticated',
                        'a-1', ARRAY['physician'], 'p-1', 'multi-factor', 1, 1, 9000000000000000, 9000000000000000, 1, 1, NULL)
                        """))
            let store = PostgresSessionStore(client: client, table: "sealed_old_sessions", timeout: .seconds(60))
            try await store.migrate()
            let hash = try #require(SessionTokenHash(bytes: Array(repeating: 0xAB, count: 32)))
            let stored = try #require(try await store.session(tokenHash: hash))
            #expect(stored.seal == nil && stored.attributes.isEmpty)
        }
    }
}
