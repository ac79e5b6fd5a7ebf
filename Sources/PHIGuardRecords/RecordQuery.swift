internal import Foundation
internal import PHIGuardCrypto

/// One search criterion of a list or count query.
///
/// Criteria are checked against the plan before anything runs: a criterion on a field the principal
/// may never read is refused (``RecordError/queryRefused(_:)``), not answered with an empty list;
/// on a field visible only on some rows, rows where it is hidden never match.
public enum RecordFilter: Sendable, Hashable {
    /// Records of this patient.
    case patient(String)
    /// Records whose field equals the value: a plain field by text equality, an encrypted field through
    /// its blind index only (an encrypted field without one is refused). The value is a literal:
    /// `%`, `_` and `*` match themselves; an empty value is refused.
    case equals(field: String, value: String)
}

/// The sort order of a list query (keyset pagination: the record id breaks ties).
public struct RecordOrder: Sendable, Hashable {
    /// What to sort on.
    public enum Key: Sendable, Hashable {
        /// The record id.
        case recordID
        /// The patient id.
        case patientID
        /// A plain field visible on every row the principal may list (anything else is refused:
        /// sorting on a hidden or encrypted field would reveal its order).
        case field(String)
    }

    /// What to sort on.
    public var key: Key
    /// Descending instead of ascending.
    public var descending: Bool

    /// Sort on `key`.
    public init(_ key: Key, descending: Bool = false) {
        self.key = key
        self.descending = descending
    }

    /// Ascending record id.
    public static let recordID = RecordOrder(.recordID)
}

/// One page of a list query.
public struct RecordPage: Sendable, CustomStringConvertible {
    /// The records, each with only the fields visible on it.
    public let records: [GuardedRecord]
    /// The cursor for the next page; `nil` when there is none. A page is never cut short silently:
    /// when more rows match, this is set.
    public let nextCursor: String?
    /// The sequence number of the query's audit record (written before the rows were decrypted).
    public let auditSequence: UInt64

    /// Whether more rows match after this page.
    public var hasMore: Bool { nextCursor != nil }

    /// Counts only.
    public var description: String { "RecordPage(\(records.count) records, more: \(hasMore))" }
}

/// The key that MACs list cursors: random per ``GuardedRecords`` instance unless the app supplies one
/// (cursors then survive a restart and work across instances).
final class CursorKey: Sendable {
    private let digest = Locked<KeyedDigest?>(nil)

    func use(_ secret: inout [UInt8]) throws(RecordError) {
        do {
            let key = try KeyedDigest(secret: &secret)
            digest.withLock { $0 = key }
        } catch {
            throw .queryRefused("the cursor key must be 32 bytes")
        }
    }

    func mac(_ payload: String) throws(RecordError) -> [UInt8] {
        let key: KeyedDigest = try digest.withLock { (current: inout KeyedDigest?) throws(RecordError) -> KeyedDigest in
            if let current { return current }
            do {
                var secret = try Sodium.randomBytes(count: 32)
                let made = try KeyedDigest(secret: &secret)
                current = made
                return made
            } catch {
                throw .storeUnavailable("SecureMemoryError")
            }
        }
        return key.digest("phiguard.list-cursor.v1", payload)
    }
}

/// What a cursor carries: the query it belongs to, and the last row's sort key.
struct ListCursor: Codable, Equatable {
    var scope: String
    var sortValue: String?
    var lastID: String

    func encoded(_ key: CursorKey) throws(RecordError) -> String {
        guard let data = try? JSONEncoder().encode(self) else { throw .invalidCursor }
        let payload = Base64.encode(Array(data), variant: .urlSafeUnpadded)
        return payload + "." + Base64.encode(try key.mac(payload), variant: .urlSafeUnpadded)
    }

    /// Verifies the MAC (constant time) and the query scope; throws ``RecordError/invalidCursor``.
    static func decode(_ text: String, scope: String, key: CursorKey) throws(RecordError) -> ListCursor {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard text.utf8.count <= 4_096, parts.count == 2,
            let mac = Base64.decode(parts[1], variant: .urlSafeUnpadded),
            let payload = Base64.decode(parts[0], variant: .urlSafeUnpadded)
        else { throw .invalidCursor }
        guard Sodium.constantTimeEqual(mac, try key.mac(String(parts[0]))) else { throw .invalidCursor }
        guard let cursor = try? JSONDecoder().decode(ListCursor.self, from: Data(payload)), cursor.scope == scope
        else { throw .invalidCursor }
        return cursor
    }
}
