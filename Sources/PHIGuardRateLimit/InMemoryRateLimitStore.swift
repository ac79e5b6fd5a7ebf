#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// The embedded rate-limit store: sharded, lock-based, bounded in memory.
///
/// - **State**: one 8-byte TAT per (limit, key), in an open-addressing table keyed by a 64-bit keyed
///   digest of the limit name and key (the per-process random seed of Swift's `Hasher`), so memory
///   per tracked key does not grow with key length (see `TATTable`).
/// - **Atomic multi-limit checks**: the shards of all keys of one request are locked together (in
///   ascending order, so no deadlock) and either every limit is charged or none is.
/// - **Bounded**: at most `maximumKeys` keys. Eviction may only drop a key whose TAT is in the past:
///   such a key has its full allowance, exactly as if it were absent, so dropping it changes no
///   decision. A key that is currently limited is never dropped; evicting one would be a bypass.
///   If a shard is full of limited keys, a request for a *new* key is refused
///   (``RateLimitDecision/StoreCondition/full``): fail closed.
public final class InMemoryRateLimitStore: RateLimitStore {
    private let shards: [Shard]
    private let clock: any PHIGuardClock
    private let seed: Int

    /// A store for at most `maximumKeys` keys in `shardCount` shards, timed by the monotonic reading of `clock`.
    public init(maximumKeys: Int = 1_000_000, shardCount: Int = 64, clock: any PHIGuardClock = SystemClock())
        throws(RateLimitError)
    {
        guard maximumKeys >= 1, (1...4_096).contains(shardCount) else {
            throw .invalidLimit("maximumKeys must be at least 1 and shardCount 1...4096")
        }
        let perShard = max(1, (maximumKeys + shardCount - 1) / shardCount)
        shards = (0..<shardCount).map { _ in Shard(capacity: perShard) }
        self.clock = clock
        seed = Int.random(in: Int.min...Int.max)
    }

    /// Checks and, if every limit admits it, charges `cost` events. Synchronous and non-blocking
    /// apart from short shard locks.
    public func checkNow(_ checks: [RateLimitCheck], cost: Int = 1) throws(RateLimitError) -> RateLimitDecision {
        if checks.count == 1 { return try checkNow(checks[0], cost: cost) }
        try RateLimitError.validate(checks, cost: cost)
        let digests = checks.map { digest($0) }
        let involved = Set(digests.map(shardIndex)).sorted().map { shards[$0] }
        for shard in involved { shard.lock() }
        defer { for shard in involved.reversed() { shard.unlock() } }
        return decide(checks, digests, cost: cost)
    }

    /// Checks and charges one limit: the fast path (one hash, one shard lock, no allocation).
    public func checkNow(_ check: RateLimitCheck, cost: Int = 1) throws(RateLimitError) -> RateLimitDecision {
        try RateLimitError.validate(check, cost: cost)
        let digest = digest(check)
        let shard = shards[shardIndex(digest)]
        shard.lock()
        defer { shard.unlock() }
        let now = clock.monotonicNanoseconds()
        let position = shard.table.pointee.position(of: digest)
        let outcome = GCRA.evaluate(storedTAT: position.storedTAT, now: now, limit: check.limit, cost: cost)
        guard outcome.allowed else {
            return RateLimitDecision(
                allowed: false, remaining: 0, retryAfter: .nanoseconds(outcome.retryAfter),
                refusedBy: [check.limit.name])
        }
        if position.storedTAT == nil, !shard.makeRoom(now: now) {
            return RateLimitDecision(
                allowed: false, remaining: 0, retryAfter: .nanoseconds(max(0, shard.nextSweep - now)), refusedBy: [],
                storeCondition: .full)
        }
        if position.storedTAT == nil {
            shard.table.pointee.set(outcome.newTAT, for: digest)  // makeRoom may have moved the slots
        } else {
            shard.table.pointee.store(outcome.newTAT, for: digest, at: position)
        }
        return RateLimitDecision(allowed: true, remaining: outcome.remaining, retryAfter: .zero, refusedBy: [])
    }

    /// The ``RateLimitStore`` requirement; never suspends.
    public func check(_ checks: [RateLimitCheck], cost: Int) async throws(RateLimitError) -> RateLimitDecision {
        try checkNow(checks, cost: cost)
    }

    /// The number of keys currently tracked (for metrics and tests).
    public var trackedKeys: Int {
        shards.reduce(0) { total, shard in total + shard.locked { shard.table.pointee.count } }
    }

    // MARK: - Internals

    /// Runs with the shards of every check locked.
    private func decide(_ checks: [RateLimitCheck], _ digests: [UInt64], cost: Int) -> RateLimitDecision {
        let now = clock.monotonicNanoseconds()
        let outcomes = zip(checks, digests).map { check, digest in
            let stored = shards[shardIndex(digest)].table.pointee.position(of: digest).storedTAT
            return GCRA.evaluate(storedTAT: stored, now: now, limit: check.limit, cost: cost)
        }
        let decision = RateLimitDecision.combining(checks, outcomes)
        guard decision.allowed else { return decision }
        // Make room for every new key before charging any, so a full shard refuses the whole request.
        for digest in digests {
            let shard = shards[shardIndex(digest)]
            if shard.table.pointee.position(of: digest).storedTAT == nil, !shard.makeRoom(now: now) {
                return RateLimitDecision(
                    allowed: false, remaining: 0, retryAfter: .nanoseconds(max(0, shard.nextSweep - now)),
                    refusedBy: [], storeCondition: .full)
            }
        }
        for (outcome, digest) in zip(outcomes, digests) {
            shards[shardIndex(digest)].table.pointee.set(outcome.newTAT, for: digest)
        }
        return decision
    }

    private func digest(_ check: RateLimitCheck) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(seed)
        hasher.combine(check.limit.nameHash)
        hasher.combine(check.key)
        let digest = UInt64(bitPattern: Int64(hasher.finalize()))
        return digest == 0 ? 1 : digest  // 0 marks an empty TATTable slot
    }

    private func shardIndex(_ digest: UInt64) -> Int {
        Int((digest >> 32) % UInt64(shards.count))
    }

    /// One shard: a lock and the table it guards.
    private final class Shard: @unchecked Sendable {
        // @unchecked Sendable: `table` and `nextSweep` are read and written only while `mutex` is
        // held (through `locked` or between `lock()` and `unlock()`). The table sits behind a
        // pointer so that its accesses need no dynamic exclusivity checks on the hot path.
        private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        let table = UnsafeMutablePointer<TATTable>.allocate(capacity: 1)
        /// No entry expires before this time, so sweeping earlier would free nothing.
        var nextSweep = Int64.min
        let capacity: Int

        init(capacity: Int) {
            self.capacity = capacity
            table.initialize(to: TATTable())
            pthread_mutex_init(mutex, nil)
        }

        deinit {
            pthread_mutex_destroy(mutex)
            mutex.deallocate()
            table.pointee.deallocate()
            table.deinitialize(count: 1)
            table.deallocate()
        }

        func lock() { pthread_mutex_lock(mutex) }
        func unlock() { pthread_mutex_unlock(mutex) }

        func locked<R>(_ body: () throws -> R) rethrows -> R {
            lock()
            defer { unlock() }
            return try body()
        }

        /// Ensures there is room for one more key, evicting only keys with a full allowance.
        func makeRoom(now: Int64) -> Bool {
            if table.pointee.count < capacity { return true }
            guard now >= nextSweep else { return false }
            var earliest = Int64.max
            table.pointee.removeAll { tat in
                if tat <= now { return false }
                earliest = min(earliest, tat)
                return true
            }
            nextSweep = earliest
            return table.pointee.count < capacity
        }
    }
}
