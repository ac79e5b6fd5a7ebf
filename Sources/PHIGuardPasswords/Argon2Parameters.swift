/// The Argon2 variant of a hash. New hashes are always ``argon2id``; the others verify for migration.
public enum Argon2Variant: String, Sendable, Hashable, CaseIterable {
    /// Argon2d: data-dependent addressing (no side-channel resistance). Verify-only.
    case argon2d
    /// Argon2i: data-independent addressing. Verify-only.
    case argon2i
    /// Argon2id: the hybrid RFC 9106 recommends, and the only variant PHIGuard hashes with.
    case argon2id
}

/// The Argon2 algorithm version. New hashes are always ``v19``.
public enum Argon2Version: UInt32, Sendable, Hashable {
    /// Version 0x10 (16): written without `v=` in PHC strings. Verify-only.
    case v16 = 0x10
    /// Version 0x13 (19), the current version.
    case v19 = 0x13
}

/// Argon2 cost parameters, validated against bounds that keep a single hash from exhausting the host.
///
/// | parameter | accepted range |
/// | --- | --- |
/// | `memoryKiB` | `8 × parallelism` … 2,097,152 (2 GiB) |
/// | `iterations` | 1 … 64 |
/// | `parallelism` | 1 … 64 |
/// | `memoryKiB × iterations` | at most 4,194,304 (the work of 4 GiB passed over once) |
///
/// The same bounds apply to parameters parsed from a stored PHC string, so a hash planted in the
/// database with `m=4194304` or `p=10000` is rejected with ``PasswordHashingError/malformedHash(_:)``
/// instead of allocating gigabytes.
public struct Argon2Parameters: Sendable, Hashable, CustomStringConvertible {
    /// Memory cost in KiB (`m`).
    public let memoryKiB: UInt32
    /// Number of passes over memory (`t`).
    public let iterations: UInt32
    /// Number of lanes (`p`); PHIGuard computes lanes on as many threads.
    public let parallelism: UInt32

    /// The upper bound on `memoryKiB`.
    public static let maximumMemoryKiB: UInt32 = 2_097_152
    /// The upper bound on `iterations`.
    public static let maximumIterations: UInt32 = 64
    /// The upper bound on `parallelism`.
    public static let maximumParallelism: UInt32 = 64
    /// The upper bound on `memoryKiB × iterations`.
    public static let maximumWork: UInt64 = 4_194_304

    /// OWASP Password Storage Cheat Sheet minimum for Argon2id: m = 19 MiB, t = 2, p = 1. The default.
    public static let owaspMinimum = Argon2Parameters(unchecked: 19_456, 2, 1)
    /// RFC 9106 §4, second recommended option ("low memory"): m = 64 MiB, t = 3, p = 4.
    public static let rfc9106LowMemory = Argon2Parameters(unchecked: 65_536, 3, 4)

    /// Custom parameters; throws ``PasswordHashingError/invalidParameters(_:)`` outside the bounds above.
    public init(memoryKiB: UInt32, iterations: UInt32, parallelism: UInt32) throws(PasswordHashingError) {
        if let problem = Self.problem(memoryKiB: memoryKiB, iterations: iterations, parallelism: parallelism) {
            throw .invalidParameters(problem)
        }
        self.init(unchecked: memoryKiB, iterations, parallelism)
    }

    private init(unchecked memoryKiB: UInt32, _ iterations: UInt32, _ parallelism: UInt32) {
        self.memoryKiB = memoryKiB
        self.iterations = iterations
        self.parallelism = parallelism
    }

    /// The human-readable reason the values are out of bounds, or `nil` when they are acceptable.
    static func problem(memoryKiB: UInt32, iterations: UInt32, parallelism: UInt32) -> String? {
        if parallelism < 1 || parallelism > maximumParallelism {
            return "parallelism must be 1...\(maximumParallelism), got \(parallelism)"
        }
        if iterations < 1 || iterations > maximumIterations {
            return "iterations must be 1...\(maximumIterations), got \(iterations)"
        }
        if memoryKiB < 8 * parallelism || memoryKiB > maximumMemoryKiB {
            return
                "memoryKiB must be \(8 * parallelism)...\(maximumMemoryKiB) for parallelism \(parallelism), got \(memoryKiB)"
        }
        if UInt64(memoryKiB) * UInt64(iterations) > maximumWork {
            return "memoryKiB × iterations must be at most \(maximumWork)"
        }
        return nil
    }

    /// `m=…,t=…,p=…`, as in a PHC string.
    public var description: String { "m=\(memoryKiB),t=\(iterations),p=\(parallelism)" }

    /// `true` when every cost is at least the corresponding cost of `policy`.
    func isAtLeast(_ policy: Argon2Parameters) -> Bool {
        memoryKiB >= policy.memoryKiB && iterations >= policy.iterations && parallelism >= policy.parallelism
    }
}
