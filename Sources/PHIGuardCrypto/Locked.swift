#if canImport(Glibc)
    package import Glibc
#elseif canImport(Darwin)
    package import Darwin
#endif

/// A value behind a lock: PHIGuard's one lock type for shared mutable state.
///
/// A `pthread_mutex_t`, not `Synchronization.Mutex`: ThreadSanitizer on Linux does not model
/// Mutex's futex-based locking and reports every access it protects as a race, which would make
/// `make tsan` useless. pthread mutexes are what TSan understands (and what `NSLock` wraps).
///
/// ```swift
/// private let counts = Locked<[String: Int]>([:])
/// counts.withLock { $0["a", default: 0] += 1 }
/// ```
///
/// Hold the lock briefly: never suspend (`await`) or call out to unknown code inside ``withLock(_:)``.
package final class Locked<Value> {
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>
    @usableFromInline var value: Value

    /// A lock guarding `initialValue`.
    package init(_ initialValue: Value) {
        value = initialValue
        mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let status = pthread_mutex_init(mutex, nil)
        precondition(status == 0, "pthread_mutex_init failed")  // only on resource exhaustion (EAGAIN/ENOMEM)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` with the lock held and the value passed `inout`; returns what `body` returns.
    @inlinable
    package func withLock<Result, E: Error>(_ body: (inout Value) throws(E) -> Result) throws(E) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}

// @unchecked Sendable: `value` is read and written only inside `withLock`, with `mutex` held, and it
// is Sendable itself, so what `body` returns may cross threads.
extension Locked: @unchecked Sendable where Value: Sendable {}
