internal import Foundation
internal import PHIGuardCrypto
public import PHIGuardKeys
public import PHIGuardPostgres

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

extension DatabaseBackup {
    /// Dumps the PostgreSQL database `url` names with `pg_dump` (plain SQL, one consistent snapshot,
    /// over the URL's TLS mode; the password reaches `pg_dump` in its environment only) and encrypts
    /// the dump into a new file at `output`, which must not exist. `pgDump` is the program to run.
    ///
    /// The dump runs inside a snapshot exported by a read-only transaction of ours
    /// (`pg_export_snapshot()`, `pg_dump --snapshot`), and the manifest's audit state (record count,
    /// last sequence, newest checkpoint of `phiguard_audit_records`/`_checkpoints`) is read in that
    /// same snapshot, so it is the dump's even while the application keeps writing.
    @discardableResult
    public static func createPostgres(
        url: PostgresConnectionURL, key: BackupKey, to output: String, pgDump: String = "pg_dump",
        clock: any PHIGuardClock = SystemClock()
    ) async throws(BackupError) -> BackupManifest {
        try refuseExisting(output)
        let scratch = try OutputFile.create(besides: output)
        scratch.discardOnlyDescriptor()
        defer { unlink(scratch.temporaryPath) }
        let audit = try await PostgresSnapshot.dump(url: url, into: scratch, tool: pgDump)
        try PostgresDump.checkDumpFile(scratch.temporaryPath)
        let (size, digest) = try digestFile(scratch.temporaryPath)
        let manifest = BackupManifest(
            formatVersion: 1, kind: .postgresDump, createdAt: clock.now, source: url.database ?? url.username,
            snapshotByteCount: size, snapshotBLAKE2b: Hex.encode(digest),
            chunkByteCount: BackupArchive.defaultChunkByteCount, audit: audit)
        try BackupArchive.write(snapshotPath: scratch.temporaryPath, manifest: manifest, key: key, to: output)
        return manifest
    }

    /// Restores a PostgreSQL backup into the database `url` names: decrypts the dump (in a private
    /// directory made in `scratchDirectory`) and verifies it in a scratch database (on
    /// ``BackupVerificationOptions/postgresScratchServer``, else on `url`'s server) as
    /// ``verify(backup:key:options:scratchDirectory:)`` does; refuses a database that already has
    /// tables unless `force` (the dump drops and recreates the objects it holds); runs it with
    /// `psql --single-transaction -v ON_ERROR_STOP=1`, so it applies completely or not at all; then
    /// verifies the restored database again (audit position, chain, envelopes). `psql` is the
    /// program to run.
    @discardableResult
    public static func restorePostgres(
        backup: String, key: BackupKey, url: PostgresConnectionURL, force: Bool = false, psql: String = "psql",
        options: BackupVerificationOptions, scratchDirectory: String? = nil
    ) async throws(BackupError) -> BackupVerificationReport {
        if !force, try await PostgresDump.userTableCount(url: url, tool: psql) > 0 {
            throw .destinationExists(path: "database \(url.database ?? url.username)")
        }
        let directory = try PrivateDirectory(in: scratchDirectory ?? FileManager.default.temporaryDirectory.path)
        defer { directory.remove() }
        let path = directory.path + "/dump.sql"
        let file = try OutputFile.create(besides: path)
        let manifest: BackupManifest
        do throws(BackupError) {
            manifest = try decrypt(backup: backup, key: key, into: file, expecting: .postgresDump)
            try file.finishWriting()
            try file.moveIntoPlace(replacing: false)
        } catch {
            file.discard()
            throw error
        }
        var scratchOptions = options
        scratchOptions.postgresScratchServer = options.postgresScratchServer ?? url
        scratchOptions.psql = psql
        _ = try await check(path, manifest: manifest, options: scratchOptions)
        try await PostgresDump.load(path, url: url, tool: psql)
        guard try await PostgresDump.userTableCount(url: url, tool: psql) > 0 || manifest.snapshotByteCount == 0 else {
            throw .database("the restored database has no tables")
        }
        let (audit, envelopes) = try await PostgresSnapshot.check(url, manifest: manifest, options: options)
        return BackupVerificationReport(manifest: manifest, auditRecordsVerified: audit, envelopes: envelopes)
    }
}
