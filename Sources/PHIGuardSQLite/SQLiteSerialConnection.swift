internal import Foundation
internal import Logging
internal import NIOCore
internal import NIOPosix
internal import PHIGuardCrypto
internal import SQLiteNIO
internal import Synchronization

/// One SQLite connection on a thread of its own, used by one task at a time.
///
/// sqlite-nio runs every statement as a separate job, so two tasks sharing a connection would
/// interleave their transactions; ``exclusive(_:)`` queues them instead (first come, first served).
/// The connection gets a one-thread `NIOThreadPool` of its own rather than the shared singleton: a
/// connection waiting for another connection's write lock (`busy_timeout`) then blocks only its own
/// thread, never the thread the lock holder needs to commit.
final class SQLiteSerialConnection: Sendable {
    private let connection: SQLiteConnection
    private let threadPool: NIOThreadPool
    private let gate = AsyncGate()
    private let closed = Atomic(false)

    private init(connection: SQLiteConnection, threadPool: NIOThreadPool) {
        self.connection = connection
        self.threadPool = threadPool
    }

    /// Opens `path` (`nil`: a private in-memory database) in WAL mode with `synchronous=FULL`; a
    /// statement that cannot get a lock within `busyTimeout` fails with `SQLITE_BUSY`. With
    /// `readOnly`, `path` is an SQLite URI (`file:…?mode=ro`) and the journal mode is left alone.
    static func open(path: String?, busyTimeout: Duration, logger: Logger, readOnly: Bool = false) async throws
        -> SQLiteSerialConnection
    {
        let threadPool = NIOThreadPool(numberOfThreads: 1)
        threadPool.start()
        let connection: SQLiteConnection
        do {
            connection = try await SQLiteConnection.open(
                storage: path.map { .file(path: $0) } ?? .memory, threadPool: threadPool, logger: logger,
                on: MultiThreadedEventLoopGroup.singleton.any())
        } catch {
            try? await threadPool.shutdownGracefully()
            throw error
        }
        let serial = SQLiteSerialConnection(connection: connection, threadPool: threadPool)
        do {
            // Replaces sqlite-nio's busy handler, which retries without sleeping or giving up.
            let milliseconds = max(0, busyTimeout.nanoseconds / 1_000_000)
            _ = try await connection.query("PRAGMA busy_timeout = \(milliseconds)", [])
            if path != nil, !readOnly {
                _ = try await connection.query("PRAGMA journal_mode=WAL", [])
            }
            if !readOnly {
                _ = try await connection.query("PRAGMA synchronous=FULL", [])
            }
        } catch {
            try? await serial.close()
            throw error
        }
        return serial
    }

    /// Opens `path` as ``open(path:busyTimeout:logger:)`` does, then makes the store's tables with
    /// `schema` in one exclusive step; the connection is closed again if they cannot be made.
    static func open(
        path: String?, busyTimeout: Duration, logger: Logger, schema: (SQLiteConnection) async throws -> Void
    ) async throws -> SQLiteSerialConnection {
        let database = try await open(path: path, busyTimeout: busyTimeout, logger: logger)
        do {
            try await database.exclusive(schema)
        } catch {
            try? await database.close()
            throw error
        }
        return database
    }

    deinit {
        // A store dropped without `close()`: close the handle and stop the thread in the background.
        guard !closed.load(ordering: .acquiring) else { return }
        let threadPool = threadPool
        connection.close().whenComplete { _ in threadPool.shutdownGracefully { _ in } }
    }

    /// Closes the connection and stops its thread, after the queued work. Later calls do nothing.
    func close() async throws {
        await gate.lock()
        defer { gate.unlock() }
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        defer { threadPool.shutdownGracefully { _ in } }
        try await connection.close()
    }

    /// Runs `body` with the connection to itself.
    func exclusive<T>(_ body: (SQLiteConnection) async throws -> T) async throws -> T {
        await gate.lock()
        defer { gate.unlock() }
        guard !closed.load(ordering: .acquiring) else { throw SQLiteStoreClosed() }
        return try await body(connection)
    }

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction (the database's write lock is taken at the
    /// start, so concurrent transactions from other connections and processes run one after the
    /// other). Commits when `body` returns `commit: true`, rolls back when it returns `false` or throws.
    func transaction<T>(_ body: (SQLiteConnection) async throws -> (value: T, commit: Bool)) async throws -> T {
        try await exclusive { connection in
            _ = try await connection.query("BEGIN IMMEDIATE", [])
            do {
                let (value, commit) = try await body(connection)
                _ = try await connection.query(commit ? "COMMIT" : "ROLLBACK", [])
                return value
            } catch {
                _ = try? await connection.query("ROLLBACK", [])
                throw error
            }
        }
    }
}

/// Thrown when a store is used after `close()`.
struct SQLiteStoreClosed: Error {}

/// A first-in, first-out lock for tasks: waiters suspend instead of blocking a thread.
///
/// Its state is behind PHIGuard's lock (`Locked`, not Synchronization.Mutex: ThreadSanitizer on
/// Linux does not see Mutex's futex-based locking and reported the gate's state as a race).
final class AsyncGate: Sendable {
    private struct State {
        var locked = false
        var waiters: [CheckedContinuation<Void, Never>] = []
        var head = 0
    }

    private let state = Locked(State())

    /// Waits until the gate is free and takes it.
    func lock() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let acquired = state.withLock { state in
                if !state.locked {
                    state.locked = true
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if acquired { continuation.resume() }
        }
    }

    /// Hands the gate to the longest waiter, or frees it.
    func unlock() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard state.head < state.waiters.count else {
                state.locked = false
                state.waiters.removeAll(keepingCapacity: true)
                state.head = 0
                return nil
            }
            let next = state.waiters[state.head]
            state.head += 1
            if state.head >= 1_024, state.head * 2 >= state.waiters.count {  // drop the resumed ones
                state.waiters.removeFirst(state.head)
                state.head = 0
            }
            return next
        }
        next?.resume()
    }
}
