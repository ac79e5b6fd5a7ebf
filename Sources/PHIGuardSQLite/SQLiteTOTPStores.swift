public import Logging
internal import NIOCore
public import PHIGuardTOTP
internal import SQLiteNIO

/// The last accepted TOTP step of each account in an SQLite file, so a code is accepted at most once
/// (RFC 6238 §5.2) across requests, restarts and the processes of one host.
///
/// Table `phiguard_totp_replay` (`account_id TEXT PRIMARY KEY`, `last_step INTEGER`).
///
/// - **Atomic compare-and-set**: ``advance(accountID:to:)`` is one statement,
///   `INSERT … ON CONFLICT (account_id) DO UPDATE SET last_step = excluded.last_step WHERE
///   last_step < excluded.last_step RETURNING 1`, and reports whether a row came back: of several
///   concurrent advances to one step, from any task, store object, connection or process, exactly
///   one returns `true`.
/// - **Stored values are checked**: a stored step that is negative or not an integer (a table
///   someone else wrote) is `TOTPStoreError.corruptRecord` from
///   ``lastAcceptedStep(accountID:)`` and is never overwritten by ``advance(accountID:to:)``
///   (which then returns `false`): fail closed. A step above `Int64.max` is
///   `TOTPStoreError.stepOutOfRange`.
/// - **Failures**: database errors become `TOTPStoreError.unavailable` naming the error type only.
///
/// ```swift
/// let database = try await SQLiteDatabase.open(path: "/var/lib/portal/portal.sqlite")
/// let verifier = try TOTPVerifier(replayStore: try await SQLiteTOTPReplayStore.open(in: database))
/// ```
public final class SQLiteTOTPReplayStore: TOTPReplayStore {
    private let database: SQLiteSerialConnection
    private let ownsConnection: Bool
    /// Identifies the connection the store runs on (tests check that stores share one).
    package var connectionIdentity: ObjectIdentifier { ObjectIdentifier(database) }

    private init(database: SQLiteSerialConnection, ownsConnection: Bool) {
        self.database = database
        self.ownsConnection = ownsConnection
    }

    /// A store in `database`, sharing its connection with the other stores built from it (its table is
    /// made if needed). ``close()`` leaves the database open.
    public static func open(in database: SQLiteDatabase) async throws(TOTPStoreError) -> SQLiteTOTPReplayStore {
        do { try await database.makeTables(createSchema) } catch { throw mapped(error) }
        return SQLiteTOTPReplayStore(database: database.connection, ownsConnection: false)
    }

    /// Opens (creating if needed) the file at `path` on a connection of its own (prefer
    /// ``open(in:)`` when other stores use the same file). Call ``close()`` when done.
    public static func open(
        path: String, busyTimeout: Duration = .seconds(5), logger: Logger = Logger(label: "phiguard.totp.sqlite")
    ) async throws(TOTPStoreError) -> SQLiteTOTPReplayStore {
        do {
            let connection = try await SQLiteSerialConnection.open(
                path: path, busyTimeout: busyTimeout, logger: logger, schema: createSchema)
            return SQLiteTOTPReplayStore(database: connection, ownsConnection: true)
        } catch {
            throw mapped(error)
        }
    }

    /// Closes the connection the store opened (after the queued operations); does nothing for a store
    /// built with ``open(in:)``.
    public func close() async throws(TOTPStoreError) {
        guard ownsConnection else { return }
        do { try await database.close() } catch { throw Self.mapped(error) }
    }

    private static func createSchema(_ connection: SQLiteConnection) async throws {
        _ = try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS phiguard_totp_replay (
                account_id TEXT PRIMARY KEY NOT NULL, last_step INTEGER NOT NULL) WITHOUT ROWID
            """, [])
    }

    /// The last step accepted for `accountID`, or `nil`; `TOTPStoreError.corruptRecord` for a
    /// stored value no store writes.
    public func lastAcceptedStep(accountID: String) async throws(TOTPStoreError) -> UInt64? {
        let rows = try await run { connection in
            try await connection.query(
                "SELECT last_step FROM phiguard_totp_replay WHERE account_id = ?", [.text(accountID)])
        }
        guard let row = rows.first else { return nil }
        guard case .integer(let stored) = row.column("last_step") ?? .null, let step = UInt64(exactly: stored) else {
            throw .corruptRecord("last_step")
        }
        return step
    }

    /// One statement: inserts the first step, or raises a lower valid one; `true` only if a row changed.
    public func advance(accountID: String, to step: UInt64) async throws(TOTPStoreError) -> Bool {
        guard let value = Int64(exactly: step) else { throw .stepOutOfRange }
        let rows = try await run { connection in
            try await connection.query(
                """
                INSERT INTO phiguard_totp_replay (account_id, last_step) VALUES (?, ?)
                ON CONFLICT (account_id) DO UPDATE SET last_step = excluded.last_step
                WHERE typeof(phiguard_totp_replay.last_step) = 'integer' AND phiguard_totp_replay.last_step >= 0
                    AND phiguard_totp_replay.last_step < excluded.last_step
                RETURNING 1
                """, [.text(accountID), .integer(SQLiteInt64(value))])
        }
        return rows.count == 1
    }

    /// Forgets an account's step (when its TOTP credential is removed or re-enrolled).
    public func remove(accountID: String) async throws(TOTPStoreError) {
        _ = try await run { connection in
            try await connection.query("DELETE FROM phiguard_totp_replay WHERE account_id = ?", [.text(accountID)])
        }
    }

    private func run<T>(_ body: (SQLiteConnection) async throws -> T) async throws(TOTPStoreError) -> T {
        do { return try await database.exclusive(body) } catch { throw Self.mapped(error) }
    }

    static func mapped(_ error: any Error) -> TOTPStoreError {
        if let error = error as? TOTPStoreError { return error }
        return .unavailable(String(describing: type(of: error)))
    }
}

/// Each account's unused recovery-code hashes in an SQLite file.
///
/// Table `phiguard_recovery_codes` (`account_id TEXT`, `hash BLOB` of 32 bytes, primary key both).
/// Only the keyed hashes from `RecoveryCodeHasher` are stored, never a code.
///
/// - **Atomic consume**: ``consume(_:accountID:)`` is one `DELETE … WHERE account_id = ? AND hash = ?
///   RETURNING 1`; of several concurrent redemptions of one code, from any task, store object,
///   connection or process, exactly one deletes the row and returns `true`. The lookup compares
///   hashes in the database's index, not in memory: a timing difference there could reveal at most
///   a prefix of a keyed 256-bit hash, which says nothing about any code.
/// - **Replace all at once**: ``replaceCodes(_:accountID:)`` deletes the old set and inserts the new
///   one in one `BEGIN IMMEDIATE` transaction: no moment with both sets, or neither.
/// - **Failures**: database errors become `TOTPStoreError.unavailable` naming the error type only.
///
/// ```swift
/// let codes = try await SQLiteRecoveryCodeStore.open(in: database)
/// let generated = try hasher.generate()
/// try await codes.replaceCodes(generated.map(\.hash), accountID: account.id)
/// if try await hasher.redeem(typed, accountID: account.id, in: codes) { signIn() }
/// ```
public final class SQLiteRecoveryCodeStore: RecoveryCodeStore {
    /// Rows per `INSERT` of ``replaceCodes(_:accountID:)``.
    static let rowsPerStatement = 200

    private let database: SQLiteSerialConnection
    private let ownsConnection: Bool
    /// Identifies the connection the store runs on (tests check that stores share one).
    package var connectionIdentity: ObjectIdentifier { ObjectIdentifier(database) }

    private init(database: SQLiteSerialConnection, ownsConnection: Bool) {
        self.database = database
        self.ownsConnection = ownsConnection
    }

    /// A store in `database`, sharing its connection with the other stores built from it (its table is
    /// made if needed). ``close()`` leaves the database open.
    public static func open(in database: SQLiteDatabase) async throws(TOTPStoreError) -> SQLiteRecoveryCodeStore {
        do { try await database.makeTables(createSchema) } catch { throw SQLiteTOTPReplayStore.mapped(error) }
        return SQLiteRecoveryCodeStore(database: database.connection, ownsConnection: false)
    }

    /// Opens (creating if needed) the file at `path` on a connection of its own (prefer
    /// ``open(in:)`` when other stores use the same file). Call ``close()`` when done.
    public static func open(
        path: String, busyTimeout: Duration = .seconds(5),
        logger: Logger = Logger(label: "phiguard.recovery-codes.sqlite")
    ) async throws(TOTPStoreError) -> SQLiteRecoveryCodeStore {
        do {
            let connection = try await SQLiteSerialConnection.open(
                path: path, busyTimeout: busyTimeout, logger: logger, schema: createSchema)
            return SQLiteRecoveryCodeStore(database: connection, ownsConnection: true)
        } catch {
            throw SQLiteTOTPReplayStore.mapped(error)
        }
    }

    /// Closes the connection the store opened (after the queued operations); does nothing for a store
    /// built with ``open(in:)``.
    public func close() async throws(TOTPStoreError) {
        guard ownsConnection else { return }
        do { try await database.close() } catch { throw SQLiteTOTPReplayStore.mapped(error) }
    }

    private static func createSchema(_ connection: SQLiteConnection) async throws {
        _ = try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS phiguard_recovery_codes (
                account_id TEXT NOT NULL, hash BLOB NOT NULL CHECK (length(hash) = 32),
                PRIMARY KEY (account_id, hash)) WITHOUT ROWID
            """, [])
    }

    /// Replaces every code of `accountID` with `hashes` in one transaction (duplicates kept once).
    public func replaceCodes(_ hashes: [RecoveryCodeHash], accountID: String) async throws(TOTPStoreError) {
        do {
            try await database.transaction { connection -> (value: Void, commit: Bool) in
                _ = try await connection.query(
                    "DELETE FROM phiguard_recovery_codes WHERE account_id = ?", [.text(accountID)])
                var start = 0
                while start < hashes.count {
                    let end = min(start + Self.rowsPerStatement, hashes.count)
                    var binds: [SQLiteData] = []
                    for hash in hashes[start..<end] {
                        binds.append(.text(accountID))
                        binds.append(.blob(ByteBuffer(bytes: hash.bytes)))
                    }
                    _ = try await connection.query(
                        "INSERT INTO phiguard_recovery_codes (account_id, hash) VALUES "
                            + Array(repeating: "(?, ?)", count: end - start).joined(separator: ", ")
                            + " ON CONFLICT DO NOTHING", binds)
                    start = end
                }
                return ((), true)
            }
        } catch {
            throw SQLiteTOTPReplayStore.mapped(error)
        }
    }

    /// Deletes `hash` from `accountID`'s codes in one statement; `true` only if this call deleted it.
    public func consume(_ hash: RecoveryCodeHash, accountID: String) async throws(TOTPStoreError) -> Bool {
        let rows = try await run { connection in
            try await connection.query(
                "DELETE FROM phiguard_recovery_codes WHERE account_id = ? AND hash = ? RETURNING 1",
                [.text(accountID), .blob(ByteBuffer(bytes: hash.bytes))])
        }
        return rows.count == 1
    }

    /// How many unused codes `accountID` has.
    public func remainingCount(accountID: String) async throws(TOTPStoreError) -> Int {
        let rows = try await run { connection in
            try await connection.query(
                "SELECT count(*) AS remaining FROM phiguard_recovery_codes WHERE account_id = ?", [.text(accountID)])
        }
        guard case .integer(let count) = rows.first?.column("remaining") ?? .null, let remaining = Int(exactly: count),
            remaining >= 0
        else {
            throw .corruptRecord("count")
        }
        return remaining
    }

    private func run<T>(_ body: (SQLiteConnection) async throws -> T) async throws(TOTPStoreError) -> T {
        do { return try await database.exclusive(body) } catch { throw SQLiteTOTPReplayStore.mapped(error) }
    }
}
