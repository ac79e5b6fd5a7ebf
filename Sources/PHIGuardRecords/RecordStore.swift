internal import PHIGuardCrypto

/// One stored column value: envelope bytes or clear text. `NULL` is an absent key.
public enum StoredValue: Sendable, Hashable, CustomStringConvertible {
    /// An encrypted field's envelope (`FieldEnvelope` binary form), or a blind-index value.
    case bytes([UInt8])
    /// A plain field, a resource attribute or the labels.
    case text(String)

    /// The kind and length only (a plain value may still be sensitive, such as a label).
    public var description: String {
        switch self {
        case .bytes(let bytes): "StoredValue(bytes, \(bytes.count))"
        case .text(let text): "StoredValue(text, \(text.utf8.count) bytes)"
        }
    }
}

/// A record as stored: ids in the clear, every field as stored (envelopes still sealed).
public struct StoredRecord: Sendable, Hashable, CustomStringConvertible {
    /// The record id.
    public var id: String
    /// The patient the record belongs to.
    public var patientID: String
    /// Stored values by column name (fields and blind-index columns); a missing key is `NULL`.
    public var columns: [String: StoredValue]

    /// A stored record.
    public init(id: String, patientID: String, columns: [String: StoredValue]) {
        self.id = id
        self.patientID = patientID
        self.columns = columns
    }

    /// The column names only.
    public var description: String { "StoredRecord(columns: \(columns.keys.sorted()))" }
}

/// Where guarded records live. Implementations store what they are given and never see a plaintext
/// PHI value: ``GuardedRecords`` encrypts before it calls and decrypts after.
///
/// Every method receives the schema; its table and column names are validated SQL names
/// (``RecordSchema/isValidSQLName(_:)``), and values must go in as bound parameters only. A store
/// error should name its type only (database messages can quote values).
public protocol RecordStore: Sendable {
    /// The record `id` of `schema`'s table, or `nil`.
    func fetch(_ id: String, schema: RecordSchema) async throws -> StoredRecord?
    /// Inserts `record`; `false` (nothing written) if its id is taken.
    func insert(_ record: StoredRecord, schema: RecordSchema) async throws -> Bool
    /// Sets `columns` of record `id` in one atomic write, only if the record still belongs to
    /// `patientID`; `false` (nothing written) otherwise.
    func update(_ id: String, patientID: String, columns: [String: StoredValue], schema: RecordSchema) async throws
        -> Bool
    /// Deletes record `id` if it still belongs to `patientID`; `false` if there was none.
    func delete(_ id: String, patientID: String, schema: RecordSchema) async throws -> Bool
}

/// A ``RecordStore`` in memory: for tests, benchmarks and examples. Not durable.
///
/// `GuardedRecords.list` and `count` work on it as on the SQL stores: the access plan is evaluated
/// row by row with the SQL translation's semantics (text compared byte for byte, sorted by UTF-8
/// bytes), and `careTeam` conditions of subjects without a care-team list use the memberships added
/// with ``addCareTeamMember(subjectID:patientID:)`` (the in-memory care-team table).
public final class InMemoryRecordStore: RecordStore {
    private let tables = Locked<[String: [String: StoredRecord]]>([:])
    private let careTeams = Locked<Set<CareTeamLink>>([])

    /// One care-team membership, compared byte for byte (as the SQL stores do).
    struct CareTeamLink: Hashable {
        var subject: [UInt8]
        var patient: [UInt8]
    }

    /// An empty store.
    public init() {}

    /// The record, if stored.
    public func fetch(_ id: String, schema: RecordSchema) async throws -> StoredRecord? {
        tables.withLock { $0[schema.table]?[id] }
    }

    /// Inserts unless the id is taken.
    public func insert(_ record: StoredRecord, schema: RecordSchema) async throws -> Bool {
        tables.withLock { tables in
            guard tables[schema.table]?[record.id] == nil else { return false }
            tables[schema.table, default: [:]][record.id] = record
            return true
        }
    }

    /// Sets the columns if the record exists and belongs to `patientID`.
    public func update(_ id: String, patientID: String, columns: [String: StoredValue], schema: RecordSchema)
        async throws -> Bool
    {
        tables.withLock { tables in
            guard var record = tables[schema.table]?[id], record.patientID == patientID else { return false }
            record.columns.merge(columns) { _, new in new }
            tables[schema.table]?[id] = record
            return true
        }
    }

    /// Puts `patientID` on the care team of `subjectID` (no-op if present).
    public func addCareTeamMember(subjectID: String, patientID: String) {
        _ = careTeams.withLock {
            $0.insert(CareTeamLink(subject: Array(subjectID.utf8), patient: Array(patientID.utf8)))
        }
    }

    /// Takes `patientID` off the care team of `subjectID`.
    public func removeCareTeamMember(subjectID: String, patientID: String) {
        _ = careTeams.withLock {
            $0.remove(CareTeamLink(subject: Array(subjectID.utf8), patient: Array(patientID.utf8)))
        }
    }

    /// Whether the membership is stored (byte for byte).
    func isOnCareTeam(subjectID: [UInt8], patientID: [UInt8]) -> Bool {
        careTeams.withLock { $0.contains(CareTeamLink(subject: subjectID, patient: patientID)) }
    }

    /// Every record of `schema`'s table (a snapshot).
    func records(schema: RecordSchema) -> [StoredRecord] {
        tables.withLock { $0[schema.table].map { Array($0.values) } ?? [] }
    }

    /// Deletes the record if it exists and belongs to `patientID`.
    public func delete(_ id: String, patientID: String, schema: RecordSchema) async throws -> Bool {
        tables.withLock { tables in
            guard let record = tables[schema.table]?[id], record.patientID == patientID else { return false }
            tables[schema.table]?[id] = nil
            return true
        }
    }
}
