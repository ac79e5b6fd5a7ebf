internal import Foundation
internal import NIOCore
internal import PHIGuardAudit
internal import PHIGuardCrypto
internal import PHIGuardFieldEncryption
internal import PHIGuardSQLite
internal import SQLiteNIO

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// The SQLite side of backups: an online snapshot with `VACUUM INTO`, and the read-only checks of a
/// snapshot (audit chain, envelopes).
enum SQLiteSnapshot {
    /// Writes a consistent copy of the database at `database` into `snapshotPath` (an empty file
    /// with mode 0600 that the caller made): `VACUUM INTO` reads the database in one read
    /// transaction, so writers on other connections (WAL mode) keep going and the copy is one
    /// committed state. The copy is switched to `journal_mode=DELETE` (one self-contained file) and
    /// its audit state is read back.
    static func snapshot(database: String, into snapshotPath: String) async throws(BackupError)
        -> BackupManifest.AuditState?
    {
        var status = stat()
        guard lstat(database, &status) == 0 else {
            throw .io(path: database, operation: "open", errno: errno)
        }
        guard status.st_mode & S_IFMT == S_IFREG else { throw .database("\(database) is not a regular file") }
        do {
            let source = try await SQLiteConnection.open(storage: .file(path: database))
            do {
                _ = try await source.query("PRAGMA busy_timeout = 30000", [])
                _ = try await source.query("VACUUM INTO ?", [.text(snapshotPath)])
                try await source.close()
            } catch {
                try? await source.close()
                throw error
            }
        } catch {
            throw .database("cannot snapshot \(database) (VACUUM INTO failed)")
        }
        do {
            let copy = try await SQLiteConnection.open(storage: .file(path: snapshotPath))
            do {
                _ = try await copy.query("PRAGMA journal_mode = DELETE", [])
                let state = try await auditState(copy)
                try await copy.close()
                return state
            } catch {
                try? await copy.close()
                throw error
            }
        } catch {
            throw .database("cannot read the snapshot's audit state")
        }
    }

    /// The audit log's size, last sequence and newest checkpoint, or `nil` without audit tables.
    static func auditState(_ connection: SQLiteConnection) async throws -> BackupManifest.AuditState? {
        guard try await hasAuditTables(connection) else { return nil }
        let count = try await connection.query("SELECT COUNT(*) AS n FROM audit_records", []).first?.column("n")
        let last = try await connection.query(
            "SELECT sequence FROM audit_records ORDER BY position DESC LIMIT 1", []
        ).first?.column("sequence")
        let checkpoint = try await connection.query(
            "SELECT sequence, chain, timestamp FROM audit_checkpoints ORDER BY sequence DESC LIMIT 1", []
        ).first
        var state = BackupManifest.AuditState(recordCount: 0, lastSequence: nil, latestCheckpoint: nil)
        if case .integer(let value) = count ?? .null { state.recordCount = Int64(value) }
        if case .integer(let value) = last ?? .null { state.lastSequence = Int64(value) }
        if let checkpoint, case .integer(let sequence) = checkpoint.column("sequence") ?? .null,
            case .blob(let chain) = checkpoint.column("chain") ?? .null,
            case .integer(let timestamp) = checkpoint.column("timestamp") ?? .null
        {
            state.latestCheckpoint = .init(
                sequence: Int64(sequence), chain: Hex.encode(chain.readableBytesView), timestamp: Int64(timestamp))
        }
        return state
    }

    static func hasAuditTables(_ connection: SQLiteConnection) async throws -> Bool {
        try await connection.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('audit_records', 'audit_checkpoints')", []
        ).count == 2
    }

    /// Opens the snapshot at `path` read-only and checks it: its audit chain with the verifier
    /// (required when it has audit tables) and against the manifest's audit state, and its envelopes.
    static func check(
        _ path: String, manifest: BackupManifest, options: BackupVerificationOptions
    ) async throws(BackupError) -> (auditRecords: Int?, envelopes: BackupEnvelopeSummary) {
        let connection: SQLiteConnection
        do {
            connection = try await SQLiteConnection.open(storage: .file(path: readOnlyURI(path)))
        } catch {
            throw .database("cannot open the snapshot read-only")
        }
        let hasAudit: Bool
        let state: BackupManifest.AuditState?
        let envelopes: BackupEnvelopeSummary
        do {
            _ = try await connection.query("PRAGMA query_only = ON", [])
            let integrity = try await connection.query("PRAGMA quick_check", []).first?.column("quick_check")
            guard case .text("ok") = integrity ?? .null else {
                try? await connection.close()
                throw BackupError.database("the snapshot fails SQLite's quick_check")
            }
            hasAudit = try await hasAuditTables(connection)
            state = try await auditState(connection)
            envelopes = try await EnvelopeScan.scan(
                connection, keyring: options.keyring, rules: options.contextRules)
            try await connection.close()
        } catch let error as BackupError {
            throw error
        } catch {
            try? await connection.close()
            throw .database("cannot read the snapshot")
        }
        var auditRecords: Int?
        guard state == manifest.audit else {
            throw .auditUnavailable("the snapshot's audit tail differs from the manifest's")
        }
        if hasAudit {
            guard let verifier = options.auditVerifier else {
                throw .auditUnavailable("the snapshot has an audit log; give the audit chain key to verify it")
            }
            let sink = try await openAudit(path)
            let report: AuditVerificationReport
            do {
                report = try await verifier.verify(sink)
                try? await sink.close()
            } catch {
                try? await sink.close()
                throw .auditUnavailable(error.description)
            }
            if let first = report.chainBreak {
                throw .auditChainBroken(breaks: report.breakCount, first: first.kind.rawValue)
            }
            auditRecords = Int(state?.recordCount ?? 0)
        }
        if let first = envelopes.problems.first {
            throw .envelopesUndecryptable(count: envelopes.failureCount, first: first)
        }
        return (auditRecords, envelopes)
    }

    private static func openAudit(_ path: String) async throws(BackupError) -> SQLiteAuditSink {
        do { return try await SQLiteAuditSink.openReadOnly(path: path) } catch {
            throw .auditUnavailable(error.description)
        }
    }

    /// `file:<path>?mode=ro`, with the characters URIs reserve percent-encoded.
    static func readOnlyURI(_ path: String) -> String {
        var encoded = ""
        for byte in path.utf8 {
            switch byte {
            case UInt8(ascii: "%"), UInt8(ascii: "?"), UInt8(ascii: "#"), 0..<0x20, 0x7F...:
                encoded += (byte < 0x10 ? "%0" : "%") + String(byte, radix: 16, uppercase: true)
            default: encoded.unicodeScalars.append(Unicode.Scalar(byte))
            }
        }
        return "file:" + encoded + "?mode=ro"
    }
}
