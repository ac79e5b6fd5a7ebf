internal import PHIGuardCrypto

/// Where the last accepted time step of each account is kept, so a code is accepted at most once
/// (RFC 6238 §5.2) across sessions, tasks and — with a shared backend — processes.
///
/// Implementations must make ``advance(accountID:to:)`` an atomic compare-and-set: of two concurrent
/// calls with the same step, exactly one may return `true`. In SQL that is one statement, for example
/// `UPDATE … SET last_step = $2 WHERE account = $1 AND (last_step IS NULL OR last_step < $2)` and a check
/// of the affected row count (plus an `INSERT … ON CONFLICT DO NOTHING` for a first step).
public protocol TOTPReplayStore: Sendable {
    /// The last step accepted for `accountID`, or `nil` if none was.
    func lastAcceptedStep(accountID: String) async throws -> UInt64?

    /// Atomically records `step` as the last accepted step if it is later than the stored one (or none
    /// is stored). Returns `false`, changing nothing, if the stored step is `step` or later.
    func advance(accountID: String, to step: UInt64) async throws -> Bool
}

/// A thread-safe ``TOTPReplayStore`` in process memory: the embedded default and the test double.
///
/// The state is lost when the process exits, and it is not shared between processes: a deployment
/// with several application instances needs a shared store (the SQLite/PostgreSQL backends).
public final class InMemoryTOTPReplayStore: TOTPReplayStore {
    private let steps = Locked<[String: UInt64]>([:])

    /// An empty store.
    public init() {}

    /// The last step accepted for `accountID`, or `nil`.
    public func lastAcceptedStep(accountID: String) async -> UInt64? {
        steps.withLock { $0[accountID] }
    }

    /// Compare-and-set under one lock: exactly one of several concurrent calls with the same step wins.
    public func advance(accountID: String, to step: UInt64) async -> Bool {
        steps.withLock { table in
            if let current = table[accountID], current >= step { return false }
            table[accountID] = step
            return true
        }
    }

    /// Forgets an account (for example when its TOTP credential is removed or re-enrolled).
    public func remove(accountID: String) {
        _ = steps.withLock { $0.removeValue(forKey: accountID) }
    }
}
