internal import Foundation
internal import Logging
internal import PostgresNIO

#if canImport(Glibc)
    internal import Glibc
#endif

/// One key rotation at a time (``Portal/rotateKeys(token:batchSize:progress:)``): an exclusive,
/// non-blocking `flock` on the key directory (every process using that directory: `field.keys` itself
/// is replaced by a rename, so its inode is no lock), and on PostgreSQL also a session advisory lock
/// of the database (instances on other hosts with key directories of their own). Both go with the
/// process: a `kill -9` releases them, so a rerun can resume.
enum RotationLock {
    /// The advisory lock's key (`"phiguard"` as eight ASCII bytes, big-endian).
    static let advisoryKey: Int64 = 0x7068_6967_7561_7264

    /// Runs `body` holding both locks; ``PortalKeyRotationError/alreadyRunning`` (before `body` runs)
    /// when another rotation holds either.
    static func holding<Result: Sendable>(
        keyDirectory: String, storage: PortalDatabase, logger: Logger, _ body: () async throws -> Result
    ) async throws -> Result {
        let descriptor = open(keyDirectory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw PortalError.notInitialized }
        defer { close(descriptor) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else { throw PortalKeyRotationError.alreadyRunning }
        defer { flock(descriptor, LOCK_UN) }
        guard case .postgres(let client, _) = storage else { return try await body() }
        return try await client.withConnection { connection in
            let rows = try await connection.query(
                "SELECT pg_try_advisory_lock(\(advisoryKey)) AS held", logger: logger
            ).collect()
            guard let held = try rows.first?.decode(Bool.self), held else {
                throw PortalKeyRotationError.alreadyRunning
            }
            do {
                let result = try await body()
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(advisoryKey))", logger: logger)
                return result
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(advisoryKey))", logger: logger)
                throw error
            }
        }
    }
}
