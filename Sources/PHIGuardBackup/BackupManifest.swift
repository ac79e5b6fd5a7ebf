public import Foundation

/// What a backup holds, sealed as the first message of its encrypted stream (so it is authenticated
/// with the file header and cannot be swapped between backups).
public struct BackupManifest: Sendable, Hashable, Codable {
    /// The snapshot's kind.
    public enum Kind: String, Sendable, Hashable, Codable {
        /// An SQLite database file made with `VACUUM INTO` (one consistent read transaction).
        case sqlite
        /// A plain-SQL `pg_dump` of one PostgreSQL database (one consistent snapshot).
        case postgresDump = "postgres-dump"
    }

    /// The audit log's state in the snapshot.
    public struct AuditState: Sendable, Hashable, Codable {
        /// The number of audit records.
        public var recordCount: Int64
        /// The sequence number of the last record (`nil`: an empty log).
        public var lastSequence: Int64?
        /// The newest stored checkpoint's sequence number, chain value (hex) and time (Unix seconds).
        public var latestCheckpoint: Checkpoint?

        /// A stored checkpoint, as the manifest records it.
        public struct Checkpoint: Sendable, Hashable, Codable {
            /// The sequence number it covers.
            public var sequence: Int64
            /// The chain value at that sequence, in hex.
            public var chain: String
            /// When it was made (Unix seconds).
            public var timestamp: Int64
        }
    }

    /// The manifest format version (1).
    public var formatVersion: Int
    /// The snapshot's kind.
    public var kind: Kind
    /// When the backup was made.
    public var createdAt: Date
    /// The database it was made from: the SQLite file's name, or the PostgreSQL database name.
    public var source: String
    /// The snapshot's size in bytes (before encryption).
    public var snapshotByteCount: Int64
    /// The BLAKE2b-256 digest of the snapshot (before encryption), in hex.
    public var snapshotBLAKE2b: String
    /// The plaintext bytes per encrypted message.
    public var chunkByteCount: Int
    /// The audit log's state (`nil` when the snapshot has no audit tables or for a PostgreSQL dump).
    public var audit: AuditState?

    static func decode(_ bytes: [UInt8]) throws(BackupError) -> BackupManifest {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        do {
            let manifest = try decoder.decode(BackupManifest.self, from: Data(bytes))
            guard manifest.formatVersion == 1, manifest.snapshotByteCount >= 0,
                manifest.chunkByteCount > 0, manifest.chunkByteCount <= BackupArchive.maximumChunkByteCount
            else { throw BackupError.malformed("manifest values out of range") }
            return manifest
        } catch let error as BackupError {
            throw error
        } catch {
            throw .malformed("the manifest is not valid JSON")
        }
    }

    func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        encoder.outputFormatting = [.sortedKeys]
        return (try? Array(encoder.encode(self))) ?? []
    }
}
