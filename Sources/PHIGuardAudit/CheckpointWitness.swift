internal import Foundation
public import Logging
internal import PHIGuardCrypto

/// A place outside the log's storage that keeps a copy of every checkpoint, so that cutting the log
/// back, together with the checkpoints stored beside it, or dropping its tables, is still detected.
///
/// Give the witness to the log through its exporter (``exporter(logger:)``), and to verification
/// with the stored checkpoints (`phiguard audit verify --witness FILE`): a witness whose latest
/// checkpoint is ahead of the log makes the log ``AuditChainBreak/Kind/truncated``, an empty log
/// included. The writer should not be able to delete from the witness: an append-only file
/// (``FileCheckpointWitness``) on another volume or host, or (an implementation for later) a
/// table in a second PostgreSQL server where the writer's role may only `INSERT`.
public protocol CheckpointWitness: Sendable {
    /// Durably records `checkpoint` (the log has committed it).
    func record(_ checkpoint: AuditCheckpoint) async throws
    /// Every checkpoint recorded, in the order recorded.
    func checkpoints() async throws -> [AuditCheckpoint]
}

extension CheckpointWitness {
    /// An ``AuditLog`` checkpoint exporter that records each checkpoint here; a failure is logged
    /// at `error` level (the records are committed; the witness is then behind, never wrong).
    ///
    /// ```swift
    /// let witness = try FileCheckpointWitness(path: "/mnt/worm/audit.witness")
    /// let log = try await AuditLog(sink: sink, chainKey: chainKey, signingKey: signingKey,
    ///                              checkpointExporter: witness.exporter())
    /// ```
    public func exporter(logger: Logger = Logger(label: "phiguard.audit.witness"))
        -> @Sendable (AuditCheckpoint)
        async -> Void
    {
        { checkpoint in
            do {
                try await record(checkpoint)
            } catch {
                logger.error(
                    "audit checkpoint could not be recorded in the witness",
                    metadata: [
                        "error-type": "\(String(reflecting: type(of: error)))", "sequence": "\(checkpoint.sequence)",
                    ])
            }
        }
    }
}

/// A witness file: one signed checkpoint per line (the JSON of ``AuditCheckpoint``), opened with
/// `O_APPEND`, each line written in one `write` under an exclusive `flock` (several processes may
/// share the file) and `fsync`ed before ``record(_:)`` returns. Created with mode `0600`.
///
/// Put it where the log's writer cannot truncate it: a file system mounted append-only
/// (`chattr +a`), another host's share, a WORM volume.
public final class FileCheckpointWitness: CheckpointWitness {
    /// The witness file.
    public let path: String
    private let descriptor: Locked<Int32>

    /// Opens (creating if needed) the witness file at `path` for appending.
    public init(path: String) throws(AuditError) {
        let opened = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard opened >= 0 else { throw .storageFailure("cannot open the checkpoint witness file (errno \(errno))") }
        self.path = path
        descriptor = Locked(opened)
    }

    /// Opens an existing witness file for reading only (for verification): nothing is created, and
    /// a missing file is an error (a witness that disappeared must not verify as "no checkpoints").
    public static func reader(path: String) throws(AuditError) -> FileCheckpointWitness {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw .storageFailure("the checkpoint witness file is missing or unreadable")
        }
        return FileCheckpointWitness(readOnlyPath: path)
    }

    private init(readOnlyPath: String) {
        path = readOnlyPath
        descriptor = Locked(-1)
    }

    deinit {
        descriptor.withLock { if $0 >= 0 { close($0) } }
    }

    /// Appends the checkpoint as one line and fsyncs.
    public func record(_ checkpoint: AuditCheckpoint) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let line = Array(try encoder.encode(checkpoint)) + [0x0A]
        try descriptor.withLock { (descriptor: inout Int32) throws(AuditError) in
            guard descriptor >= 0 else { throw .storageFailure("the checkpoint witness was opened read-only") }
            guard flock(descriptor, LOCK_EX) == 0 else { throw .storageFailure("flock failed (errno \(errno))") }
            defer { _ = flock(descriptor, LOCK_UN) }
            let written = line.withUnsafeBytes { write(descriptor, $0.baseAddress!, $0.count) }
            guard written == line.count else { throw .storageFailure("witness write failed (errno \(errno))") }
            guard fsync(descriptor) == 0 else { throw .storageFailure("fsync failed (errno \(errno))") }
        }
    }

    /// Every checkpoint in the file. Throws ``AuditError/malformedCheckpoint(_:)`` for a bad line
    /// and `storageFailure` if the file has gone.
    public func checkpoints() async throws -> [AuditCheckpoint] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw AuditError.storageFailure("the checkpoint witness file is missing")
        }
        return try JSONLinesAuditSink.readCheckpoints(path: path)
    }
}
