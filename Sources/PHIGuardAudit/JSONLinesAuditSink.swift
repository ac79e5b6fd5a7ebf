internal import Foundation
internal import PHIGuardCrypto

/// A sink that appends one JSON record per line to a file, with checkpoints in `<path>.checkpoints`.
///
/// Each batch is written with one `write` loop; if it fails part-way the file is truncated back, so
/// a batch is all-or-nothing. ``FsyncPolicy`` says when the data reaches the disk. The file is
/// created with mode `0600`. Line `n` of the file is storage position `n - 1`.
public final class JSONLinesAuditSink: AuditSink, AuditRecordSource {
    /// When written batches are forced to the disk with `fsync`.
    public enum FsyncPolicy: Sendable, Hashable {
        /// After every batch, before ``JSONLinesAuditSink/append(_:checkpoints:expectingAfter:)`` returns: a committed
        /// append survives a power cut. The default.
        case everyBatch
        /// At most once per `interval`: a crash may lose the batches written in the last interval
        /// (the writer will have been told they were committed). Faster on slow disks.
        case interval(Duration)
        /// Never explicitly: the OS writes back when it likes. For tests and benchmarks.
        case never
    }

    /// The records file.
    public let path: String
    /// The checkpoints file (`path + ".checkpoints"`).
    public let checkpointsPath: String
    /// The fsync policy.
    public let fsyncPolicy: FsyncPolicy

    /// The longest line read back (longer lines are reported unreadable, not loaded).
    static let maximumLineLength = 1 << 20

    private struct WriterState {
        var descriptor: Int32 = -1
        var checkpointDescriptor: Int32 = -1
        var lastSync = ContinuousClock.now
        /// The file size after this sink's last write and the tail it wrote: while the size is
        /// unchanged, no other writer appended, and the tail need not be read back.
        var knownTail: (size: Int64, sequence: UInt64, chain: [UInt8])?
    }

    private let state = Locked(WriterState())
    private let readCursor = Locked<(position: Int, offset: UInt64)>((0, 0))

    /// Opens (creating if needed) the log at `path`.
    public init(path: String, fsyncPolicy: FsyncPolicy = .everyBatch) throws(AuditError) {
        self.path = path
        self.checkpointsPath = path + ".checkpoints"
        self.fsyncPolicy = fsyncPolicy
        let records = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard records >= 0 else { throw .storageFailure("cannot open the audit log file (errno \(errno))") }
        let checkpoints = open(checkpointsPath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard checkpoints >= 0 else {
            close(records)
            throw .storageFailure("cannot open the audit checkpoints file (errno \(errno))")
        }
        state.withLock {
            $0.descriptor = records
            $0.checkpointDescriptor = checkpoints
        }
    }

    /// Opens an existing log read-only (for verification and export): nothing is created.
    public static func reader(path: String) throws(AuditError) -> JSONLinesAuditSink {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw .storageFailure("the audit log file is missing or unreadable")
        }
        return JSONLinesAuditSink(readOnlyPath: path)
    }

    private init(readOnlyPath: String) {
        path = readOnlyPath
        checkpointsPath = readOnlyPath + ".checkpoints"
        fsyncPolicy = .never
    }

    deinit {
        state.withLock {
            if $0.descriptor >= 0 { close($0.descriptor) }
            if $0.checkpointDescriptor >= 0 { close($0.checkpointDescriptor) }
        }
    }

    /// Writes the batch as lines, all or nothing, then fsyncs by ``fsyncPolicy``. Compare-and-append:
    /// under an exclusive `flock` of the file (other processes appending take it too), the last
    /// line must still be `expectingAfter`, else ``AuditAppendConflict`` and nothing is written.
    public func append(_ records: [AuditRecord], checkpoints: [AuditCheckpoint], expectingAfter: AuditRecord?)
        async throws
    {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var bytes: [UInt8] = []
        bytes.reserveCapacity(records.count * 320)
        for record in records {
            bytes.append(contentsOf: try encoder.encode(record))
            bytes.append(0x0A)
        }
        var checkpointBytes: [UInt8] = []
        for checkpoint in checkpoints {
            checkpointBytes.append(contentsOf: try encoder.encode(checkpoint))
            checkpointBytes.append(0x0A)
        }
        let policy = fsyncPolicy
        let path = path
        try state.withLock { (state: inout WriterState) throws in
            guard state.descriptor >= 0 else { throw AuditError.storageFailure("the audit log was opened read-only") }
            guard flock(state.descriptor, LOCK_EX) == 0 else {
                throw AuditError.storageFailure("flock failed (errno \(errno))")
            }
            defer { _ = flock(state.descriptor, LOCK_UN) }
            if !records.isEmpty {
                let size = lseek(state.descriptor, 0, SEEK_END)
                let stored: (sequence: UInt64, chain: [UInt8])?
                if let known = state.knownTail, known.size == Int64(size) {
                    stored = (known.sequence, known.chain)
                } else {
                    stored = try Self.readLastRecord(path: path).map { ($0.sequence, $0.chain) }
                }
                guard AuditAppendConflict.tail(stored, matches: expectingAfter) else { throw AuditAppendConflict() }
            }
            try Self.writeAll(bytes, to: state.descriptor)
            if let last = records.last {
                state.knownTail = (Int64(lseek(state.descriptor, 0, SEEK_END)), last.sequence, last.chain)
            }
            let now = ContinuousClock.now
            let sync: Bool
            switch policy {
            case .everyBatch: sync = true
            case .interval(let interval): sync = now - state.lastSync >= interval
            case .never: sync = false
            }
            if sync {
                guard fsync(state.descriptor) == 0 else {
                    throw AuditError.storageFailure("fsync failed (errno \(errno))")
                }
                state.lastSync = now
            }
            if !checkpointBytes.isEmpty {
                try Self.writeAll(checkpointBytes, to: state.checkpointDescriptor)
                guard fsync(state.checkpointDescriptor) == 0 else {
                    throw AuditError.storageFailure("fsync failed (errno \(errno))")
                }
            }
        }
    }

    /// Writes every byte or, on failure, truncates the file back to where it was.
    private static func writeAll(_ bytes: [UInt8], to descriptor: Int32) throws(AuditError) {
        guard !bytes.isEmpty else { return }
        let start = lseek(descriptor, 0, SEEK_END)
        var written = 0
        let failure: Int32? = bytes.withUnsafeBytes { buffer in
            while written < buffer.count {
                let result = write(descriptor, buffer.baseAddress! + written, buffer.count - written)
                if result < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                written += result
            }
            return nil
        }
        if let failure {
            if start >= 0 { _ = ftruncate(descriptor, start) }
            throw .storageFailure("write failed (errno \(failure))")
        }
    }

    /// The last line of the file, parsed. Throws if the tail is torn or edited (the log must not
    /// resume on a record it cannot read; repair or rotate the file first).
    public func lastRecord() async throws -> AuditRecord? {
        try Self.readLastRecord(path: path)
    }

    private static func readLastRecord(path: String) throws(AuditError) -> AuditRecord? {
        do {
            return try readLastLine(path: path)
        } catch let error as AuditError {
            throw error
        } catch {
            throw .storageFailure("the audit log file could not be read")
        }
    }

    private static func readLastLine(path: String) throws -> AuditRecord? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        let size = try handle.seekToEnd()
        guard size > 0 else { return nil }
        let window = min(size, UInt64(maximumLineLength))
        try handle.seek(toOffset: size - window)
        var tail = Array(try handle.readToEnd() ?? Data())
        if tail.last == 0x0A { tail.removeLast() }
        let start = (tail.lastIndex(of: 0x0A).map { $0 + 1 }) ?? 0
        do {
            return try JSONDecoder().decode(AuditRecord.self, from: Data(tail[start...]))
        } catch {
            throw AuditError.storageFailure("the last line of the audit log is not a record")
        }
    }

    /// Lines `position ..< position + limit` as entries (reads sequentially; positions are cached
    /// so a front-to-back scan reads the file once).
    public func entries(from position: Int, limit: Int) async throws -> [AuditLogEntry] {
        guard position >= 0, limit > 0 else { return [] }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw AuditError.storageFailure("the audit log file is missing or unreadable")
        }
        defer { try? handle.close() }
        var (currentPosition, offset) = readCursor.withLock { $0 }
        if currentPosition > position { (currentPosition, offset) = (0, 0) }
        try handle.seek(toOffset: offset)
        let decoder = JSONDecoder()
        var entries: [AuditLogEntry] = []
        var line: [UInt8] = []
        var lineTooLong = false
        reading: while true {
            guard let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty else { break }
            for byte in chunk {
                offset += 1
                guard byte == 0x0A else {
                    if line.count < Self.maximumLineLength { line.append(byte) } else { lineTooLong = true }
                    continue
                }
                if currentPosition >= position {
                    if lineTooLong {
                        entries.append(.unreadable)
                    } else if let record = try? decoder.decode(AuditRecord.self, from: Data(line)) {
                        entries.append(.record(record))
                    } else {
                        entries.append(.unreadable)
                    }
                }
                currentPosition += 1
                line.removeAll(keepingCapacity: true)
                lineTooLong = false
                if entries.count == limit {
                    let cursor = (currentPosition, offset)
                    readCursor.withLock { $0 = cursor }
                    break reading
                }
            }
        }
        // A final line without a newline is a torn write: report it, do not drop it.
        if entries.count < limit, !line.isEmpty || lineTooLong, currentPosition >= position {
            entries.append(.unreadable)
        }
        return entries
    }

    /// The checkpoints stored beside the log. Throws ``AuditError/malformedCheckpoint(_:)`` for a bad line.
    public func checkpoints() async throws -> [AuditCheckpoint] {
        try Self.readCheckpoints(path: checkpointsPath)
    }

    /// Reads a checkpoints file (JSON lines, as written by this sink or exported) or returns `[]`
    /// if it does not exist.
    public static func readCheckpoints(path: String) throws(AuditError) -> [AuditCheckpoint] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .storageFailure("the checkpoints file is unreadable")
        }
        let decoder = JSONDecoder()
        var checkpoints: [AuditCheckpoint] = []
        for (number, line) in data.split(separator: 0x0A, omittingEmptySubsequences: true).enumerated() {
            guard let checkpoint = try? decoder.decode(AuditCheckpoint.self, from: Data(line)) else {
                throw .malformedCheckpoint("line \(number + 1) is not a checkpoint")
            }
            checkpoints.append(checkpoint)
        }
        return checkpoints
    }
}
