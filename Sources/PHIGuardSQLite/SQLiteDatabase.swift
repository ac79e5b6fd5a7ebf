public import Logging
internal import SQLiteNIO

/// One SQLite database, opened once and shared by every PHIGuard store kept in it: one connection,
/// one thread, one queue.
///
/// Each store's `open(path:…)` opens a connection of its own, with a thread of its own; an app that
/// keeps sessions, lockout counters, rate limits, TOTP steps, recovery codes, records and its audit
/// log in one file would run six connections and six threads for it. Open the file once instead and
/// build every store from it:
///
/// ```swift
/// let database = try await SQLiteDatabase.open(path: "/var/lib/portal/portal.sqlite")
/// let sessions = try await SQLiteSessionStore.open(in: database)
/// let lockout = try await SQLiteLockoutStore.open(in: database, keyDigestSecret: lockoutSecret)
/// let replay = try await SQLiteTOTPReplayStore.open(in: database)
/// let codes = try await SQLiteRecoveryCodeStore.open(in: database)
/// let sink = try await SQLiteAuditSink.open(in: database)
/// // at shutdown, after the stores' last use (and after `AuditLog.close()`):
/// try await database.close()
/// ```
///
/// - **One at a time**: the stores' operations queue for the connection (first come, first served);
///   each runs to the end (a transaction commits or rolls back) before the next starts, so the
///   stores keep the atomicity each documents.
/// - **Closing**: a store built from a database does not own it: its `close()` does nothing, and
///   ``close()`` here ends every store built from it (later calls fail with the store's
///   "unavailable" error).
/// - **Durable**: WAL mode with `synchronous=FULL`, as for a store's own connection. Other
///   processes (or other `SQLiteDatabase`s) on the same file wait up to `busyTimeout` for the write
///   lock.
public final class SQLiteDatabase: Sendable {
    /// The connection every store built from this database runs on.
    let connection: SQLiteSerialConnection
    /// The file, or `nil` for a private in-memory database.
    public let path: String?

    private init(connection: SQLiteSerialConnection, path: String?) {
        self.connection = connection
        self.path = path
    }

    /// Opens (creating if needed) the database file at `path`. A statement waits at most
    /// `busyTimeout` for another connection's write lock before it fails. Call ``close()`` when done.
    public static func open(
        path: String, busyTimeout: Duration = .seconds(5), logger: Logger = Logger(label: "phiguard.sqlite")
    ) async throws(SQLiteDatabaseError) -> SQLiteDatabase {
        do {
            let connection = try await SQLiteSerialConnection.open(path: path, busyTimeout: busyTimeout, logger: logger)
            return SQLiteDatabase(connection: connection, path: path)
        } catch {
            throw .unavailable(String(describing: type(of: error)))
        }
    }

    /// Opens a private in-memory database (for tests): the stores built from it share its tables,
    /// which end with it.
    public static func inMemory(logger: Logger = Logger(label: "phiguard.sqlite")) async throws(SQLiteDatabaseError)
        -> SQLiteDatabase
    {
        do {
            let connection = try await SQLiteSerialConnection.open(path: nil, busyTimeout: .seconds(5), logger: logger)
            return SQLiteDatabase(connection: connection, path: nil)
        } catch {
            throw .unavailable(String(describing: type(of: error)))
        }
    }

    /// Closes the connection and stops its thread, after the operations already queued. Every store
    /// built from this database is unusable afterwards. Later calls do nothing.
    public func close() async throws(SQLiteDatabaseError) {
        do { try await connection.close() } catch { throw .unavailable(String(describing: type(of: error))) }
    }

    /// Makes a store's tables with `schema` in one exclusive step (for a store's `open(in:)`).
    func makeTables(_ schema: (SQLiteConnection) async throws -> Void) async throws {
        try await connection.exclusive(schema)
    }

    /// Identifies the connection (tests check that stores built from one database share it).
    package var connectionIdentity: ObjectIdentifier { ObjectIdentifier(connection) }
}

/// Why an ``SQLiteDatabase`` could not be opened or closed. No case carries a path or a database message.
public enum SQLiteDatabaseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The database could not be opened or closed; the payload is the underlying error's type name only.
    case unavailable(String)

    /// A fixed text.
    public var description: String {
        switch self {
        case .unavailable(let type): "SQLite database unavailable (\(type))"
        }
    }
}
