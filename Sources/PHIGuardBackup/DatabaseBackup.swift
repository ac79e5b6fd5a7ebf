internal import Foundation
public import PHIGuardAudit
internal import PHIGuardCrypto
public import PHIGuardFieldEncryption
public import PHIGuardKeys
public import PHIGuardPostgres

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// What ``DatabaseBackup/verify(backup:key:options:scratchDirectory:)`` and the restores check
/// beyond the encryption: the keys the snapshot's contents must verify with.
public struct BackupVerificationOptions: Sendable {
    /// The current field keyring: every envelope must name one of its keys (and decrypt, where a
    /// ``contextRules`` rule says how it was sealed).
    public var keyring: Keyring
    /// The audit log's verifier. Required when the snapshot has audit tables.
    public var auditVerifier: AuditVerifier?
    /// How envelopes were sealed, per column, so they can be authenticated (see ``EnvelopeContextRule``).
    public var contextRules: [EnvelopeContextRule]
    /// The PostgreSQL server a PostgreSQL dump is restored on to be checked: verification creates
    /// a scratch database there (the role needs `CREATEDB`), restores the dump into it, checks it
    /// like an SQLite snapshot, and drops it. Required to verify a PostgreSQL backup; a restore
    /// uses its target's server when this is `nil`.
    public var postgresScratchServer: PostgresConnectionURL?
    /// The `psql` program used with ``postgresScratchServer``.
    public var psql: String

    /// Options checking envelopes against `keyring` (decrypting those `contextRules` cover) and the
    /// audit log with `auditVerifier`; PostgreSQL dumps are checked in a scratch database on
    /// `postgresScratchServer`.
    public init(
        keyring: Keyring, auditVerifier: AuditVerifier?, contextRules: [EnvelopeContextRule] = [],
        postgresScratchServer: PostgresConnectionURL? = nil, psql: String = "psql"
    ) {
        self.keyring = keyring
        self.auditVerifier = auditVerifier
        self.contextRules = contextRules
        self.postgresScratchServer = postgresScratchServer
        self.psql = psql
    }
}

/// The result of a successful verification (a failure is a thrown ``BackupError``).
public struct BackupVerificationReport: Sendable {
    /// The authenticated manifest.
    public let manifest: BackupManifest
    /// The audit records whose chain verified (`nil`: no audit log in the snapshot).
    public let auditRecordsVerified: Int?
    /// The envelope scan.
    public let envelopes: BackupEnvelopeSummary
}

/// Encrypted, verified backups of an SQLite database or a PostgreSQL database: create, verify, restore.
///
/// ```swift
/// let key = try KeyDirectory(path: "/etc/portal/keys").backupKey()   // or BackupKey.load(path:)
/// let manifest = try await DatabaseBackup.createSQLite(database: "/var/lib/portal/portal.sqlite",
///                                                      key: key, to: "/backups/portal-2026-11-29.phgbak")
/// let options = BackupVerificationOptions(keyring: keyring, auditVerifier: verifier, contextRules: rules)
/// let report = try await DatabaseBackup.verify(backup: "/backups/portal-2026-11-29.phgbak", key: key,
///                                              options: options)
/// ```
///
/// Every output is written beside its destination with mode 0600, synced, and moved into place in
/// one step; on any failure nothing is left behind. See the "Backups you can restore" article.
public enum DatabaseBackup {
    /// Snapshots the SQLite database at `database` (online: other connections may keep writing)
    /// and encrypts it into a new file at `output`, which must not exist, in messages of
    /// `chunkByteCount` bytes (4 KiB to 16 MiB; 1 MiB by default).
    @discardableResult
    public static func createSQLite(
        database: String, key: BackupKey, to output: String, chunkByteCount: Int = 1 << 20,
        clock: any PHIGuardClock = SystemClock()
    ) async throws(BackupError) -> BackupManifest {
        guard (4096...BackupArchive.maximumChunkByteCount).contains(chunkByteCount) else {
            throw .malformed("the chunk size must be 4 KiB to 16 MiB")
        }
        try refuseExisting(output)
        let scratch = try OutputFile.create(besides: output)
        scratch.discardOnlyDescriptor()
        defer { unlink(scratch.temporaryPath) }
        let audit = try await SQLiteSnapshot.snapshot(database: database, into: scratch.temporaryPath)
        let (size, digest) = try digestFile(scratch.temporaryPath)
        let manifest = BackupManifest(
            formatVersion: 1, kind: .sqlite, createdAt: clock.now,
            source: URL(fileURLWithPath: database).lastPathComponent, snapshotByteCount: size,
            snapshotBLAKE2b: Hex.encode(digest), chunkByteCount: chunkByteCount, audit: audit)
        try BackupArchive.write(snapshotPath: scratch.temporaryPath, manifest: manifest, key: key, to: output)
        return manifest
    }

    /// Decrypts the backup at `backup` (any changed, missing or reordered byte is a typed error),
    /// checks the snapshot against its manifest, opens it and verifies its audit position against the
    /// manifest, its audit chain and its field envelopes. An SQLite snapshot is opened read-only; a
    /// PostgreSQL dump is restored into a scratch database on
    /// ``BackupVerificationOptions/postgresScratchServer`` (made and dropped here; without a server,
    /// ``BackupError/scratchDatabaseUnavailable(_:)``). The decrypted snapshot is written to a private
    /// directory made in `scratchDirectory` (default: the system's temporary directory) and removed.
    public static func verify(
        backup: String, key: BackupKey, options: BackupVerificationOptions, scratchDirectory: String? = nil
    ) async throws(BackupError) -> BackupVerificationReport {
        let directory = try PrivateDirectory(in: scratchDirectory ?? FileManager.default.temporaryDirectory.path)
        defer { directory.remove() }
        let path = directory.path + "/snapshot"
        let manifest = try decrypt(backup: backup, key: key, to: path)
        return try await check(path, manifest: manifest, options: options)
    }

    /// Restores an SQLite backup to `destination`: refuses an existing file without `force`;
    /// decrypts beside the destination (mode 0600), verifies the copy, syncs it, removes the old
    /// database's `-wal`/`-shm` files and renames the copy into place, then verifies the restored file
    /// again. Stop every process using the database first.
    @discardableResult
    public static func restoreSQLite(
        backup: String, key: BackupKey, to destination: String, force: Bool = false,
        options: BackupVerificationOptions
    ) async throws(BackupError) -> BackupVerificationReport {
        if !force { try refuseExisting(destination) }
        let file = try OutputFile.create(besides: destination)
        let manifest: BackupManifest
        do throws(BackupError) {
            manifest = try decrypt(backup: backup, key: key, into: file, expecting: .sqlite)
            try file.finishWriting()
            _ = try await check(file.temporaryPath, manifest: manifest, options: options)
            if force {
                for suffix in ["-wal", "-shm", "-journal"] { unlink(destination + suffix) }
            }
            try file.moveIntoPlace(replacing: force)
        } catch {
            file.discard()
            throw error
        }
        return try await check(destination, manifest: manifest, options: options)
    }

    // MARK: Shared steps

    static func check(_ path: String, manifest: BackupManifest, options: BackupVerificationOptions)
        async throws(BackupError) -> BackupVerificationReport
    {
        switch manifest.kind {
        case .sqlite:
            let (audit, envelopes) = try await SQLiteSnapshot.check(path, manifest: manifest, options: options)
            return BackupVerificationReport(manifest: manifest, auditRecordsVerified: audit, envelopes: envelopes)
        case .postgresDump:
            try PostgresDump.checkDumpFile(path)
            guard let server = options.postgresScratchServer else {
                throw .scratchDatabaseUnavailable(
                    "give a PostgreSQL server to restore the dump into a scratch database")
            }
            let (audit, envelopes) = try await PostgresSnapshot.withScratchDatabase(server: server, psql: options.psql)
            {
                scratch throws(BackupError) in
                try await PostgresDump.load(path, url: scratch, tool: options.psql)
                return try await PostgresSnapshot.check(scratch, manifest: manifest, options: options)
            }
            return BackupVerificationReport(manifest: manifest, auditRecordsVerified: audit, envelopes: envelopes)
        }
    }

    /// Decrypts `backup` into a new private file at `path`; checks size and hash.
    static func decrypt(backup: String, key: BackupKey, to path: String) throws(BackupError) -> BackupManifest {
        let file = try OutputFile.create(besides: path)
        do throws(BackupError) {
            let manifest = try decrypt(backup: backup, key: key, into: file, expecting: nil)
            try file.finishWriting()
            try file.moveIntoPlace(replacing: false)
            return manifest
        } catch {
            file.discard()
            throw error
        }
    }

    /// Streams the snapshot of `backup` into `file`, checking its size and BLAKE2b-256 digest.
    static func decrypt(
        backup: String, key: BackupKey, into file: OutputFile, expecting kind: BackupManifest.Kind?
    ) throws(BackupError) -> BackupManifest {
        let reader = try BackupReader(path: backup, key: key)
        let manifest = reader.manifest
        if let kind, manifest.kind != kind { throw .wrongKind(expected: kind, found: manifest.kind) }
        let hasher = try hasher()
        var size: Int64 = 0
        while let chunk = try reader.nextChunk() {
            size += Int64(chunk.count)
            guard size <= manifest.snapshotByteCount else { throw .snapshotMismatch(what: "size") }
            do { try hasher.update(chunk) } catch { throw .crypto(error.description) }
            try file.write(chunk)
        }
        guard size == manifest.snapshotByteCount else { throw .snapshotMismatch(what: "size") }
        let digest: [UInt8]
        do { digest = try hasher.finalize() } catch { throw .crypto(error.description) }
        guard let expected = Hex.decode(manifest.snapshotBLAKE2b), Sodium.constantTimeEqual(digest, expected) else {
            throw .snapshotMismatch(what: "BLAKE2b hash")
        }
        return manifest
    }

    /// The size and BLAKE2b-256 digest of the file at `path`.
    static func digestFile(_ path: String) throws(BackupError) -> (Int64, [UInt8]) {
        let input = try InputFile(path: path)
        let hasher = try hasher()
        var size: Int64 = 0
        while true {
            let chunk = try input.read(BackupArchive.defaultChunkByteCount)
            if chunk.isEmpty { break }
            size += Int64(chunk.count)
            do { try hasher.update(chunk) } catch { throw .crypto(error.description) }
        }
        do { return (size, try hasher.finalize()) } catch { throw .crypto(error.description) }
    }

    private static func hasher() throws(BackupError) -> BLAKE2b.Hasher {
        do { return try BLAKE2b.Hasher(outputCount: 32) } catch { throw .crypto(error.description) }
    }

    static func refuseExisting(_ path: String) throws(BackupError) {
        var status = stat()
        if lstat(path, &status) == 0 { throw .destinationExists(path: path) }
    }
}

/// A directory only the owner can enter (`mkdtemp`, mode 0700), removed with its files.
struct PrivateDirectory {
    let path: String

    init(in parent: String) throws(BackupError) {
        var template = Array((parent + "/phiguard-backup-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer in mkdtemp(buffer.baseAddress!) != nil }
        guard made else { throw .io(path: parent, operation: "mkdtemp in", errno: errno) }
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
