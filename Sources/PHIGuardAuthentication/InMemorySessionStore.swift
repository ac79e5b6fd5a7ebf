public import Foundation
internal import PHIGuardCrypto

/// A ``SessionStore`` in process memory: the embedded default for a single instance, and the store
/// the tests use. Sessions are lost when the process ends (users sign in again).
public final class InMemorySessionStore: SessionStore {
    private struct Contents {
        var byHash: [SessionTokenHash: SessionRecord] = [:]
        var handles: Set<String> = []
    }

    private let contents = Locked(Contents())

    /// An empty store.
    public init() {}

    /// Stores a new record.
    public func insert(_ record: SessionRecord) throws(SessionStoreError) {
        try contents.withLock { (contents) throws(SessionStoreError) in
            guard contents.byHash[record.tokenHash] == nil, !contents.handles.contains(record.handle) else {
                throw .duplicate
            }
            contents.byHash[record.tokenHash] = record
            contents.handles.insert(record.handle)
        }
    }

    /// The record under `tokenHash`.
    public func session(tokenHash: SessionTokenHash) -> SessionRecord? {
        contents.withLock { $0.byHash[tokenHash] }
    }

    /// Atomically swaps the record under `old` for `new`.
    public func replace(_ old: SessionTokenHash, with new: SessionRecord) throws(SessionStoreError) -> Bool {
        try contents.withLock { (contents) throws(SessionStoreError) -> Bool in
            guard let previous = contents.byHash[old] else { return false }
            guard contents.byHash[new.tokenHash] == nil,
                new.handle == previous.handle || !contents.handles.contains(new.handle)
            else { throw .duplicate }
            contents.byHash[old] = nil
            contents.handles.remove(previous.handle)
            contents.byHash[new.tokenHash] = new
            contents.handles.insert(new.handle)
            return true
        }
    }

    /// Records a use.
    public func touch(_ tokenHash: SessionTokenHash, lastSeenAt: Date, idleExpiresAt: Date) {
        contents.withLock { contents in
            contents.byHash[tokenHash]?.lastSeenAt = lastSeenAt
            contents.byHash[tokenHash]?.idleExpiresAt = idleExpiresAt
        }
    }

    /// Removes the record under `tokenHash`.
    public func remove(_ tokenHash: SessionTokenHash) -> SessionRecord? {
        contents.withLock { contents in
            guard let record = contents.byHash.removeValue(forKey: tokenHash) else { return nil }
            contents.handles.remove(record.handle)
            return record
        }
    }

    /// Every record of `accountID`, oldest first.
    public func sessions(accountID: String) -> [SessionRecord] {
        contents.withLock { $0.byHash.values.filter { $0.accountID == accountID } }
            .sorted { ($0.createdAt, $0.handle) < ($1.createdAt, $1.handle) }
    }

    /// Removes every record of `accountID` but the kept one.
    public func removeSessions(accountID: String, except keptHandle: String?) -> [SessionRecord] {
        contents.withLock { contents in
            let removed = contents.byHash.values.filter { $0.accountID == accountID && $0.handle != keptHandle }
            for record in removed {
                contents.byHash[record.tokenHash] = nil
                contents.handles.remove(record.handle)
            }
            return removed
        }
    }

    /// Removes every expired record.
    public func removeExpired(at now: Date) -> Int {
        contents.withLock { contents in
            let expired = contents.byHash.values.filter { $0.isExpired(at: now) }
            for record in expired {
                contents.byHash[record.tokenHash] = nil
                contents.handles.remove(record.handle)
            }
            return expired.count
        }
    }

    /// The number of stored records.
    public var count: Int { contents.withLock { $0.byHash.count } }

    /// Every stored record (for tests and diagnostics: nothing in it is secret).
    public var allRecords: [SessionRecord] { contents.withLock { Array($0.byHash.values) } }
}
