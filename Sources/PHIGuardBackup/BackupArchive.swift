internal import Foundation
internal import PHIGuardCrypto
internal import PHIGuardKeys

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// The encrypted backup file (format version 1).
///
/// | Offset | Length | Content |
/// |--------|--------|---------|
/// | 0      | 8      | magic `PHGBAK` `0x00` and the format version `0x01` |
/// | 8      | 16     | key check: BLAKE2b-128 keyed with the backup key over a fixed label |
/// | 24     | 24     | libsodium secretstream (XChaCha20-Poly1305) header |
/// | 48     | …      | frames: a 4-byte big-endian length, then that many bytes of one sealed message |
///
/// The first message is the JSON ``BackupManifest``, sealed with the first 48 bytes as associated
/// data (so the header is authenticated too); then the snapshot in messages of
/// ``BackupManifest/chunkByteCount`` bytes, the last one tagged `final` (an empty snapshot is one
/// empty final message). secretstream authenticates every message with its position: a changed
/// byte, a removed, repeated or swapped message fails; a file cut before the final message is
/// ``BackupError/truncated``; bytes after it are ``BackupError/trailingData``.
enum BackupArchive {
    static let magic: [UInt8] = Array("PHGBAK".utf8) + [0x00, 0x01]
    static let headerByteCount = 48
    static let defaultChunkByteCount = 1 << 20
    static let maximumChunkByteCount = 16 << 20
    static let maximumManifestByteCount = 1 << 20

    /// The key check of the header (`BackupKey`'s, under `PHIGuard.backup.key-check.v1`), its error typed as a backup error.
    static func keyCheck(_ key: BackupKey) throws(BackupError) -> [UInt8] {
        do { return try key.keyCheck() } catch { throw .key(error) }
    }

    /// Encrypts the file at `snapshotPath` into a new file at `output`, which must not exist: the
    /// archive is written beside it, synced, then linked into place (never a partial file).
    static func write(
        snapshotPath: String, manifest: BackupManifest, key: BackupKey, to output: String
    ) throws(BackupError) {
        let file = try OutputFile.create(besides: output)
        do throws(BackupError) {
            let sealer: SecretStream.Sealer
            do { sealer = try SecretStream.Sealer(key: key.secret) } catch {
                throw BackupError.crypto(error.description)
            }
            let header = magic + (try keyCheck(key)) + sealer.header
            try file.write(header)
            try writeFrame(try seal(sealer, manifest.encoded(), header, .message), to: file)
            let input = try InputFile(path: snapshotPath)
            var remaining = manifest.snapshotByteCount
            repeat {
                let chunk = try input.read(Int(min(Int64(manifest.chunkByteCount), remaining)))
                remaining -= Int64(chunk.count)
                guard !chunk.isEmpty || remaining == 0 else { throw BackupError.snapshotMismatch(what: "size") }
                try writeFrame(try seal(sealer, chunk, [], remaining == 0 ? .final : .message), to: file)
            } while remaining > 0
            guard try input.read(1).isEmpty else { throw BackupError.snapshotMismatch(what: "size") }
            try file.publish(replacing: false)
        } catch {
            file.discard()
            throw error
        }
    }

    private static func seal(
        _ sealer: SecretStream.Sealer, _ message: [UInt8], _ associatedData: [UInt8], _ tag: SecretStream.Tag
    ) throws(BackupError) -> [UInt8] {
        do { return try sealer.seal(message, associatedData: associatedData, tag: tag) } catch {
            throw .crypto(error.description)
        }
    }

    private static func writeFrame(_ sealed: [UInt8], to file: OutputFile) throws(BackupError) {
        let count = UInt32(sealed.count)
        try file.write([
            UInt8(count >> 24), UInt8(truncatingIfNeeded: count >> 16), UInt8(truncatingIfNeeded: count >> 8),
            UInt8(truncatingIfNeeded: count),
        ])
        try file.write(sealed)
    }
}

/// Reads a backup file: the header and manifest at once, the snapshot's chunks on demand.
final class BackupReader {
    let manifest: BackupManifest
    private let input: InputFile
    private let opener: SecretStream.Opener
    private var finished = false

    init(path: String, key: BackupKey) throws(BackupError) {
        input = try InputFile(path: path)
        let header = try input.read(BackupArchive.headerByteCount)
        guard header.count >= 8, Array(header[0..<6]) == Array(BackupArchive.magic[0..<6]), header[6] == 0 else {
            throw header.count < 8 && Array(BackupArchive.magic.prefix(header.count)) == header
                ? .truncated : .notABackup
        }
        guard header[7] == BackupArchive.magic[7] else { throw .unsupportedVersion(header[7]) }
        guard header.count == BackupArchive.headerByteCount else { throw .truncated }
        guard Sodium.constantTimeEqual(Array(header[8..<24]), try BackupArchive.keyCheck(key)) else { throw .wrongKey }
        do { opener = try SecretStream.Opener(key: key.secret, header: Array(header[24..<48])) } catch {
            throw .tampered
        }
        guard let first = try Self.readFrame(input, limit: BackupArchive.maximumManifestByteCount) else {
            throw .truncated
        }
        let (manifestBytes, tag) = try Self.open(opener, first, header)
        guard tag == .message else { throw .malformed("the stream ends after its manifest") }
        manifest = try BackupManifest.decode(manifestBytes)
    }

    /// The next snapshot chunk, or `nil` after the final one (having checked nothing follows it).
    func nextChunk() throws(BackupError) -> [UInt8]? {
        guard !finished else { return nil }
        guard let frame = try Self.readFrame(input, limit: manifest.chunkByteCount) else { throw .truncated }
        let (chunk, tag) = try Self.open(opener, frame, [])
        guard chunk.count <= manifest.chunkByteCount else {
            throw .malformed("a chunk is longer than the manifest says")
        }
        if tag == .final {
            finished = true
            guard try input.read(1).isEmpty else { throw .trailingData }
        }
        return chunk
    }

    private static func open(_ opener: SecretStream.Opener, _ frame: [UInt8], _ associatedData: [UInt8])
        throws(BackupError) -> ([UInt8], SecretStream.Tag)
    {
        do { return try opener.open(frame, associatedData: associatedData) } catch {
            switch error {
            case .authenticationFailed, .ciphertextTooShort, .unexpectedTag: throw .tampered
            default: throw .crypto(error.description)
            }
        }
    }

    /// One frame's sealed message; `nil` at the end of the file. A frame longer than `limit` plus
    /// the overhead is refused before anything is allocated.
    private static func readFrame(_ input: InputFile, limit: Int) throws(BackupError) -> [UInt8]? {
        let prefix = try input.read(4)
        if prefix.isEmpty { return nil }
        guard prefix.count == 4 else { throw .truncated }
        let count = prefix.reduce(0) { ($0 << 8) | Int($1) }
        guard count >= SecretStream.overheadByteCount, count <= limit + SecretStream.overheadByteCount else {
            throw .tampered
        }
        let sealed = try input.read(count)
        guard sealed.count == count else { throw .truncated }
        return sealed
    }
}

/// A file read in chunks.
final class InputFile {
    private let handle: FileHandle
    private let path: String

    init(path: String) throws(BackupError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        self.handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        self.path = path
    }

    /// Up to `count` bytes; fewer only at the end of the file.
    func read(_ count: Int) throws(BackupError) -> [UInt8] {
        var result: [UInt8] = []
        while result.count < count {
            let data: Data?
            do { data = try handle.read(upToCount: count - result.count) } catch {
                throw .io(path: path, operation: "read", errno: EIO)
            }
            guard let data, !data.isEmpty else { break }
            result += data
        }
        return result
    }
}

/// A new private file (mode 0600) written beside its destination, then published atomically.
final class OutputFile {
    let destination: String
    let temporaryPath: String
    private var descriptor: Int32

    private init(destination: String, temporaryPath: String, descriptor: Int32) {
        self.destination = destination
        self.temporaryPath = temporaryPath
        self.descriptor = descriptor
    }

    /// Creates `<dir>/.<name>.partial-<pid>-<random>` with `O_EXCL | O_NOFOLLOW`, mode 0600.
    static func create(besides destination: String) throws(BackupError) -> OutputFile {
        let url = URL(fileURLWithPath: destination)
        let random = (try? Sodium.randomBytes(count: 6)).map { Hex.encode($0) } ?? "0"
        let temporary = url.deletingLastPathComponent().appendingPathComponent(
            ".\(url.lastPathComponent).partial-\(getpid())-\(random)"
        ).path
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else { throw .io(path: temporary, operation: "create", errno: errno) }
        guard fchmod(descriptor, 0o600) == 0 else {
            let code = errno
            close(descriptor)
            unlink(temporary)
            throw .io(path: temporary, operation: "chmod", errno: code)
        }
        return OutputFile(destination: destination, temporaryPath: temporary, descriptor: descriptor)
    }

    func write(_ bytes: [UInt8]) throws(BackupError) {
        let code: Int32 = bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return 0 }
            var offset = 0
            while offset < buffer.count {
                #if canImport(Glibc)
                    let written = Glibc.write(descriptor, base + offset, buffer.count - offset)
                #else
                    let written = Darwin.write(descriptor, base + offset, buffer.count - offset)
                #endif
                if written < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += written
            }
            return 0
        }
        guard code == 0 else { throw .io(path: temporaryPath, operation: "write", errno: code) }
    }

    /// Syncs and closes the file, then moves it into place (``moveIntoPlace(replacing:)``).
    /// On failure the temporary file is removed.
    func publish(replacing: Bool) throws(BackupError) {
        do throws(BackupError) {
            try finishWriting()
            try moveIntoPlace(replacing: replacing)
        } catch {
            discard()
            throw error
        }
    }

    /// Syncs and closes the temporary file (it stays where it is).
    func finishWriting() throws(BackupError) {
        guard descriptor >= 0 else { return }
        guard fsync(descriptor) == 0 else { throw .io(path: temporaryPath, operation: "fsync", errno: errno) }
        close(descriptor)
        descriptor = -1
    }

    /// Closes the descriptor without syncing (the caller fills the empty file another way).
    func discardOnlyDescriptor() {
        if descriptor >= 0 {
            close(descriptor)
            descriptor = -1
        }
    }

    /// Moves the finished file to the destination: with `replacing`, `rename` (atomic replacement);
    /// without, `link` (fails if the destination exists) then `unlink`. Then syncs the directory.
    func moveIntoPlace(replacing: Bool) throws(BackupError) {
        if replacing {
            guard rename(temporaryPath, destination) == 0 else {
                throw .io(path: destination, operation: "rename", errno: errno)
            }
        } else {
            guard link(temporaryPath, destination) == 0 else {
                let code = errno
                if code == EEXIST { throw .destinationExists(path: destination) }
                throw .io(path: destination, operation: "link", errno: code)
            }
            unlink(temporaryPath)
        }
        Self.syncDirectory(of: destination)
    }

    /// Closes and removes the temporary file.
    func discard() {
        if descriptor >= 0 {
            close(descriptor)
            descriptor = -1
        }
        unlink(temporaryPath)
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    /// `fsync` on the directory holding `path`, so a rename or link survives a power cut.
    static func syncDirectory(of path: String) {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let descriptor = open(directory, O_RDONLY | O_CLOEXEC | O_DIRECTORY)
        guard descriptor >= 0 else { return }
        fsync(descriptor)
        close(descriptor)
    }
}
