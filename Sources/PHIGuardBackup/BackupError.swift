public import PHIGuardKeys

/// Why a backup could not be created, read, verified or restored. No case carries a key byte, a
/// database value or a decrypted byte; paths and counts only.
public enum BackupError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The backup key could not be used (its `KeyError`, which names the file or key and the
    /// problem, never the key). Loading a key throws `KeyError` itself: see `BackupKey.load(path:)`.
    case key(KeyError)
    /// The file does not start with the backup format's magic bytes.
    case notABackup
    /// The file is a backup in a format version this build does not read.
    case unsupportedVersion(UInt8)
    /// The backup was made with a different backup key (the key check in its header does not match).
    case wrongKey
    /// The file ends before the stream's final message: it was cut short.
    case truncated
    /// A message did not authenticate: a byte was changed, or messages were removed, repeated or moved.
    case tampered
    /// There are bytes after the stream's final message.
    case trailingData
    /// A frame is longer than the format allows, or the manifest is not the expected JSON.
    case malformed(String)
    /// The decrypted snapshot does not match its manifest (`what`: size or BLAKE2b hash).
    case snapshotMismatch(what: String)
    /// The snapshot is not of the kind the operation needs (an SQLite restore of a PostgreSQL dump).
    case wrongKind(expected: BackupManifest.Kind, found: BackupManifest.Kind)
    /// The snapshot's audit chain does not verify (the number of breaks and the first one's kind).
    case auditChainBroken(breaks: Int, first: String)
    /// The snapshot has audit tables but no audit verifier was given, or they could not be read.
    case auditUnavailable(String)
    /// Field envelopes in the snapshot do not decrypt with the keyring (the count; see the report).
    case envelopesUndecryptable(count: Int, first: BackupEnvelopeProblem)
    /// The destination exists and `force` was not given.
    case destinationExists(path: String)
    /// A file operation failed (`errno`).
    case io(path: String, operation: String, errno: Int32)
    /// The SQLite database could not be opened, snapshotted or read (SQLite's message is not kept).
    case database(String)
    /// `pg_dump` or `psql` failed or could not be started (exit status; its standard error is not kept).
    case postgresTool(tool: String, status: Int32)
    /// libsodium failed (the wrapper's description).
    case crypto(String)
    /// A PostgreSQL dump cannot be verified: no server was given for its scratch database, or the
    /// scratch database could not be created (the reason).
    case scratchDatabaseUnavailable(String)

    /// A description with paths, counts and reasons only.
    public var description: String {
        switch self {
        case .key(let error): "backup key: \(error)"
        case .notABackup: "not a PHIGuard backup file"
        case .unsupportedVersion(let version): "backup format version \(version) is not supported"
        case .wrongKey: "the backup was made with a different backup key"
        case .truncated: "the backup is truncated (it ends before its final message)"
        case .tampered: "the backup does not authenticate (changed, reordered or removed bytes)"
        case .trailingData: "the backup has bytes after its final message"
        case .malformed(let reason): "the backup is malformed: \(reason)"
        case .snapshotMismatch(let what): "the decrypted snapshot's \(what) does not match the manifest"
        case .wrongKind(let expected, let found):
            "the backup holds a \(found.rawValue) snapshot, not \(expected.rawValue)"
        case .auditChainBroken(let breaks, let first):
            "the snapshot's audit chain is broken (\(breaks) breaks, first: \(first))"
        case .auditUnavailable(let reason): "the snapshot's audit log cannot be verified: \(reason)"
        case .envelopesUndecryptable(let count, let first):
            "\(count) field envelopes in the snapshot do not decrypt with the keyring (first: \(first))"
        case .destinationExists(let path): "\(path) exists; give --force to replace it"
        case .io(let path, let operation, let code): "\(operation) \(path) failed (errno \(code))"
        case .database(let reason): "database: \(reason)"
        case .postgresTool(let tool, let status): "\(tool) failed (exit status \(status))"
        case .crypto(let reason): "crypto: \(reason)"
        case .scratchDatabaseUnavailable(let reason): "cannot verify the PostgreSQL dump: \(reason)"
        }
    }
}
