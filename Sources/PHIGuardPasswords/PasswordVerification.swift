/// The outcome of ``PasswordHasher/verify(_:against:)``.
public enum PasswordVerification: Sendable, Hashable {
    /// The password matches and the hash meets the current policy.
    case valid
    /// The password matches, but the stored hash should be replaced by ``PasswordHasher/hash(_:)``
    /// of the same password now, while you have it in hand.
    case validNeedsRehash(Set<RehashReason>)
    /// The password does not match.
    case invalid

    /// `true` for ``valid`` and ``validNeedsRehash(_:)``.
    public var isValid: Bool {
        if case .invalid = self { false } else { true }
    }
}

/// Why a matching hash should be replaced.
public enum RehashReason: String, Sendable, Hashable, CaseIterable {
    /// Made with argon2i or argon2d; new hashes use argon2id.
    case algorithm
    /// Made with Argon2 version 16; new hashes use version 19.
    case version
    /// Memory, iterations or parallelism below the current ``Argon2Parameters``.
    case parameters
    /// Salt shorter than 16 bytes or tag shorter than 32 bytes.
    case saltOrHashLength
    /// Made without a pepper, or with a pepper other than the ring's current one.
    case pepper
}
