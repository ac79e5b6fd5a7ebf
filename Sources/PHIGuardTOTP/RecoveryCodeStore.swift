internal import PHIGuardCrypto

/// Where each account's unused recovery code hashes are kept.
///
/// ``consume(_:accountID:)`` must be atomic: of two concurrent calls with the same hash, exactly one may
/// return `true` (in SQL: `DELETE … WHERE account = $1 AND hash = $2` and check the deleted row count).
public protocol RecoveryCodeStore: Sendable {
    /// Replaces all of `accountID`'s codes with `hashes` (a new set invalidates the old one).
    func replaceCodes(_ hashes: [RecoveryCodeHash], accountID: String) async throws
    /// Removes `hash` from `accountID`'s codes if present; returns whether it was.
    func consume(_ hash: RecoveryCodeHash, accountID: String) async throws -> Bool
    /// How many unused codes `accountID` has.
    func remainingCount(accountID: String) async throws -> Int
}

/// A thread-safe ``RecoveryCodeStore`` in process memory (the embedded default and the test double).
public final class InMemoryRecoveryCodeStore: RecoveryCodeStore {
    private let codes = Locked<[String: [RecoveryCodeHash]]>([:])

    /// An empty store.
    public init() {}

    /// Replaces the account's codes.
    public func replaceCodes(_ hashes: [RecoveryCodeHash], accountID: String) async {
        codes.withLock { $0[accountID] = hashes }
    }

    /// Compares `hash` with every stored hash in constant time, then removes the match under the same lock.
    public func consume(_ hash: RecoveryCodeHash, accountID: String) async -> Bool {
        codes.withLock { table in
            guard let stored = table[accountID] else { return false }
            var matchIndex = -1
            for (index, candidate) in stored.enumerated()
            where Sodium.constantTimeEqual(candidate.bytes, hash.bytes) && matchIndex < 0 {
                matchIndex = index
            }
            guard matchIndex >= 0 else { return false }
            table[accountID]?.remove(at: matchIndex)
            return true
        }
    }

    /// The number of unused codes.
    public func remainingCount(accountID: String) async -> Int {
        codes.withLock { $0[accountID]?.count ?? 0 }
    }
}
