public import Foundation

/// Where sessions live: ``InMemorySessionStore`` (one process), or the SQLite and PostgreSQL stores in
/// `PHIGuardSQLite` and `PHIGuardPostgres` (several processes or instances).
///
/// Records are keyed by ``SessionTokenHash``; stores never see a token. Implementations must make
/// ``replace(_:with:)`` atomic, since token rotation relies on it: the old token stops working in the
/// same step the new one starts.
public protocol SessionStore: Sendable {
    /// Stores a new record. Throws ``SessionStoreError/duplicate`` if its hash or handle is taken.
    func insert(_ record: SessionRecord) async throws(SessionStoreError)
    /// The record stored under `tokenHash`, if any (expired records included: the caller checks).
    func session(tokenHash: SessionTokenHash) async throws(SessionStoreError) -> SessionRecord?
    /// Atomically removes the record under `old` and stores `new`; returns `false` (changing nothing)
    /// if `old` is no longer stored (a concurrent request rotated or ended it first).
    func replace(_ old: SessionTokenHash, with new: SessionRecord) async throws(SessionStoreError) -> Bool
    /// Records a use: sets `lastSeenAt` and `idleExpiresAt` of the record under `tokenHash`, if any.
    func touch(_ tokenHash: SessionTokenHash, lastSeenAt: Date, idleExpiresAt: Date) async throws(SessionStoreError)
    /// Removes and returns the record under `tokenHash`, if any.
    func remove(_ tokenHash: SessionTokenHash) async throws(SessionStoreError) -> SessionRecord?
    /// Every record of `accountID`, oldest first.
    func sessions(accountID: String) async throws(SessionStoreError) -> [SessionRecord]
    /// Removes every record of `accountID` except the one with handle `keptHandle`; returns the removed.
    func removeSessions(accountID: String, except keptHandle: String?) async throws(SessionStoreError)
        -> [SessionRecord]
    /// Removes every record expired at `now`; returns how many.
    func removeExpired(at now: Date) async throws(SessionStoreError) -> Int
}

/// A session store failure. Messages name the failure, never a token, hash or account.
public enum SessionStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The backend could not be reached or failed; the payload is the underlying error's type name.
    case unavailable(String)
    /// A record with the same token hash or handle already exists.
    case duplicate
    /// A stored row could not be read back as a session (the payload names the column).
    case corruptRecord(String)

    /// A description without identifiers.
    public var description: String {
        switch self {
        case .unavailable(let type): "session store unavailable (\(type))"
        case .duplicate: "session already stored"
        case .corruptRecord(let column): "stored session unreadable (column \(column))"
        }
    }
}
