internal import CSodium

/// Secret bytes (keys, peppers, TOTP seeds, password copies) held in libsodium guarded memory.
///
/// - The bytes live in `sodium_malloc` memory: guard pages on both sides, a canary, `mlock`ed
///   where the system allows, and zeroed by `sodium_free` (and by us, first) when released.
/// - While nobody reads them they are `PROT_NONE` (``IdleProtection/noAccess``), or read-only
///   (``IdleProtection/readOnly``) for keys on a hot path where two `mprotect` calls per use would
///   dominate the cost. A reader count keeps concurrent readers safe.
/// - They are reachable only inside ``withUnsafeBytes(_:)``; `description`, `debugDescription`
///   and `dump` print `<redacted>`; equality is constant-time.
package final class SecretBytes: @unchecked Sendable {
    // @unchecked Sendable: `pointer` is written only inside `init` (before the object is shared),
    // then only read; page protection changes are serialised by `readers`, and `deinit` runs
    // when no other reference exists.

    /// How the memory is protected between uses.
    package enum IdleProtection: Sendable {
        /// `PROT_NONE` while idle: a stray read (or a core dump walker) faults. Costs two syscalls a use.
        case noAccess
        /// `PROT_READ` after initialisation: no syscalls per use, still guarded and never writable.
        case readOnly
    }

    /// The largest secret this type allocates (a guard against absurd lengths from bad input).
    package static let maximumCount = 1 << 20

    /// The number of secret bytes.
    package let count: Int
    private let pointer: UnsafeMutableRawPointer
    private let idleProtection: IdleProtection
    private let readers = Locked(0)

    /// Allocates `count` guarded bytes and lets `initializer` write them once.
    package init<E: Error>(
        count: Int,
        idleProtection: IdleProtection = .noAccess,
        initializer: (UnsafeMutableRawBufferPointer) throws(E) -> Void
    ) throws(SecretBytesInitError<E>) {
        guard count > 0, count <= Self.maximumCount else { throw .memory(.invalidLength(count)) }
        guard Sodium.isReady else { throw .memory(.libsodiumUnavailable) }
        guard let pointer = sodium_malloc(count) else { throw .memory(.allocationFailed(byteCount: count)) }
        do {
            try initializer(UnsafeMutableRawBufferPointer(start: pointer, count: count))
        } catch {
            sodium_memzero(pointer, count)
            sodium_free(pointer)
            throw .initializer(error)
        }
        self.pointer = pointer
        self.count = count
        self.idleProtection = idleProtection
        Self.protectIdle(pointer, idleProtection)
    }

    /// `count` bytes from libsodium's CSPRNG.
    package convenience init(randomCount count: Int, idleProtection: IdleProtection = .noAccess)
        throws(SecureMemoryError)
    {
        do {
            try self.init(count: count, idleProtection: idleProtection) { (buffer) throws(SecureMemoryError) in
                try Sodium.randomBytes(into: buffer)
            }
        } catch {
            throw error.memoryError
        }
    }

    /// Copies `bytes` into guarded memory. The caller should zero its own copy afterwards.
    package convenience init(copying bytes: some Collection<UInt8>, idleProtection: IdleProtection = .noAccess)
        throws(SecureMemoryError)
    {
        do {
            try self.init(count: bytes.count, idleProtection: idleProtection) {
                (buffer: UnsafeMutableRawBufferPointer) throws(Never) in
                _ = buffer.initializeMemory(as: UInt8.self, from: bytes)
            }
        } catch {
            throw error.memoryError
        }
    }

    deinit {
        Sodium.expectSuccess(sodium_mprotect_readwrite(pointer), "sodium_mprotect_readwrite")
        sodium_memzero(pointer, count)
        if let observer = Self.releaseObserver.withLock({ $0 }) {
            observer(UnsafeRawBufferPointer(start: pointer, count: count))
        }
        sodium_free(pointer)
    }

    /// Gives `body` read access to the secret bytes. Do not let the pointer escape.
    package func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        guard idleProtection == .noAccess else {
            return try body(UnsafeRawBufferPointer(start: pointer, count: count))
        }
        readers.withLock { active in
            if active == 0 { Sodium.expectSuccess(sodium_mprotect_readonly(pointer), "sodium_mprotect_readonly") }
            active += 1
        }
        defer {
            readers.withLock { active in
                active -= 1
                if active == 0 { Sodium.expectSuccess(sodium_mprotect_noaccess(pointer), "sodium_mprotect_noaccess") }
            }
        }
        return try body(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    /// Constant-time comparison with another secret (lengths are compared first; they are public).
    package func constantTimeEquals(_ other: SecretBytes) -> Bool {
        withUnsafeBytes { mine in other.withUnsafeBytes { theirs in Sodium.constantTimeEqual(mine, theirs) } }
    }

    /// Constant-time comparison with bytes in ordinary memory.
    package func constantTimeEquals(_ bytes: UnsafeRawBufferPointer) -> Bool {
        withUnsafeBytes { mine in Sodium.constantTimeEqual(mine, bytes) }
    }

    private static func protectIdle(_ pointer: UnsafeMutableRawPointer, _ protection: IdleProtection) {
        switch protection {
        case .noAccess: Sodium.expectSuccess(sodium_mprotect_noaccess(pointer), "sodium_mprotect_noaccess")
        case .readOnly: Sodium.expectSuccess(sodium_mprotect_readonly(pointer), "sodium_mprotect_readonly")
        }
    }

    // MARK: Test hook

    /// Called from `deinit` after the bytes are zeroed and before the memory is returned, so tests
    /// can observe that released secrets are zero. `nil` (no cost) outside tests.
    package static let releaseObserver = Locked<(@Sendable (UnsafeRawBufferPointer) -> Void)?>(nil)
}

extension SecretBytes: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Always `<redacted>`.
    package var description: String { "<redacted>" }
    /// Always `<redacted>`.
    package var debugDescription: String { "<redacted>" }
    /// A mirror with no children, so `dump` and debuggers show nothing but `<redacted>`.
    package var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

/// Why ``SecretBytes/init(count:idleProtection:initializer:)`` failed: the memory layer, or the initializer.
package enum SecretBytesInitError<E: Error>: Error {
    /// Allocation or libsodium failed.
    case memory(SecureMemoryError)
    /// The caller's initializer threw; the memory was zeroed and freed.
    case initializer(E)
}

extension SecretBytesInitError where E == SecureMemoryError {
    /// Both cases collapse to a ``SecureMemoryError``.
    var memoryError: SecureMemoryError {
        switch self {
        case .memory(let error), .initializer(let error): error
        }
    }
}

extension SecretBytesInitError where E == Never {
    /// An initializer that cannot throw leaves only the memory case.
    var memoryError: SecureMemoryError {
        switch self {
        case .memory(let error): error
        }
    }
}
