internal import PHIGuardCrypto

/// Argon2id password hashing with PHC strings, rehash detection, optional peppers and a memory budget.
///
/// ```swift
/// let hasher = try PasswordHasher()                      // OWASP minimum: m=19456, t=2, p=1
/// let stored = try await hasher.hash("correct horse battery staple")
/// switch try await hasher.verify(attempt, against: stored) {
/// case .valid: signIn()
/// case .validNeedsRehash: signIn(); save(try await hasher.hash(attempt))
/// case .invalid: reject()
/// }
/// // For an account that does not exist, spend the same time and answer the same way:
/// _ = await hasher.verifyUnknownAccount(attempt)
/// ```
///
/// Hashing runs on ``Configuration/maximumConcurrentHashes`` dedicated threads, off Swift's
/// cooperative pool; further requests queue (up to ``Configuration/maximumQueuedRequests``), so
/// peak Argon2 memory is `maximumConcurrentHashes × memoryKiB`.
public final class PasswordHasher: Sendable {
    /// How a hasher hashes and what it accepts.
    public struct Configuration: Sendable {
        /// Parameters for new hashes; stored hashes weaker than these report ``RehashReason/parameters``.
        public var parameters: Argon2Parameters
        /// Optional peppers; `nil` hashes without one.
        public var peppers: PepperRing?
        /// The memory budget: how many Argon2 computations may run at once (1...64).
        public var maximumConcurrentHashes: Int
        /// How many requests may wait for a slot before ``PasswordHashingError/overloaded`` is thrown.
        public var maximumQueuedRequests: Int

        /// The defaults are the OWASP minimum, no pepper, 4 concurrent hashes, 10,000 queued requests.
        public init(
            parameters: Argon2Parameters = .owaspMinimum,
            peppers: PepperRing? = nil,
            maximumConcurrentHashes: Int = 4,
            maximumQueuedRequests: Int = 10_000
        ) {
            self.parameters = parameters
            self.peppers = peppers
            self.maximumConcurrentHashes = maximumConcurrentHashes
            self.maximumQueuedRequests = maximumQueuedRequests
        }
    }

    /// The length of new salts in bytes.
    public static let saltLength = 16
    /// The length of new tags in bytes.
    public static let tagLength = 32

    /// The configuration this hasher was made with.
    public let configuration: Configuration
    private let pool: HashingPool
    private let unknownAccountHash: PHCString

    /// Creates a hasher; throws ``PasswordHashingError/invalidParameters(_:)`` for a budget outside 1...64
    /// or a negative queue length.
    public init(configuration: Configuration = Configuration()) throws(PasswordHashingError) {
        guard (1...64).contains(configuration.maximumConcurrentHashes) else {
            throw .invalidParameters("maximumConcurrentHashes must be 1...64")
        }
        guard configuration.maximumQueuedRequests >= 0 else {
            throw .invalidParameters("maximumQueuedRequests must not be negative")
        }
        self.configuration = configuration
        pool = HashingPool(
            workers: configuration.maximumConcurrentHashes, maximumQueued: configuration.maximumQueuedRequests)
        // A hash of nothing: random salt and tag at the current parameters, so verifying against it
        // costs exactly what a real verify costs and never matches.
        do {
            unknownAccountHash = PHCString(
                variant: .argon2id, version: .v19, parameters: configuration.parameters,
                pepperID: configuration.peppers?.current.id,
                salt: try Sodium.randomBytes(count: Self.saltLength),
                hash: try Sodium.randomBytes(count: Self.tagLength))
        } catch {
            throw .secureMemoryFailure(error.description)
        }
    }

    /// Hashes `password` (after ``PasswordInput`` rules) with Argon2id and a fresh 16-byte salt.
    ///
    /// A convenience for ``hash(secret:)``: the `String` is copied once into a ``PasswordSecret``
    /// (the `String` itself stays in ordinary memory).
    /// - Returns: the PHC string to store.
    public func hash(_ password: String) async throws(PasswordHashingError) -> String {
        try await hash(secret: try PasswordSecret(password))
    }

    /// Hashes a password held in guarded memory (``PasswordSecret``) with Argon2id and a fresh
    /// 16-byte salt, after the ``PasswordInput`` rules; an ASCII password is never copied out of
    /// guarded memory. The primary entry point.
    /// - Returns: the PHC string to store.
    public func hash(secret password: PasswordSecret) async throws(PasswordHashingError) -> String {
        try await hash(secret: try password.normalizedSecret())
    }

    private func hash(secret: SecretBytes) async throws(PasswordHashingError) -> String {
        let salt: [UInt8]
        do { salt = try Sodium.randomBytes(count: Self.saltLength) } catch {
            throw .secureMemoryFailure(error.description)
        }
        let parameters = configuration.parameters
        let pepper = configuration.peppers?.current
        let result = await pool.run { () -> Result<String, PasswordHashingError> in
            Result { () throws(PasswordHashingError) -> String in
                let tag = try Self.computeTag(
                    password: secret, salt: salt, pepper: pepper, variant: .argon2id, version: .v19,
                    parameters: parameters, tagLength: Self.tagLength)
                return PHCString(
                    variant: .argon2id, version: .v19, parameters: parameters, pepperID: pepper?.id, salt: salt,
                    hash: tag
                ).encoded
            }
        }
        return try result.get()
    }

    /// Verifies `password` against a stored PHC string, in constant time for the comparison.
    ///
    /// - Throws: ``PasswordHashingError/malformedHash(_:)`` for a corrupt stored hash,
    ///   ``PasswordHashingError/unknownPepper(id:)`` for a pepper this hasher does not hold, and the
    ///   input errors of ``PasswordInput``. A wrong password is not an error: it is ``PasswordVerification/invalid``.
    ///
    /// A convenience for ``verify(secret:against:)``: the `String` is copied once into a ``PasswordSecret``.
    public func verify(_ password: String, against storedHash: String) async throws(PasswordHashingError)
        -> PasswordVerification
    {
        try await verify(secret: try PasswordSecret(password), against: storedHash)
    }

    /// Verifies a password held in guarded memory (``PasswordSecret``) against a stored PHC string,
    /// in constant time for the comparison. The primary entry point; throws as ``verify(_:against:)``.
    public func verify(secret password: PasswordSecret, against storedHash: String) async throws(PasswordHashingError)
        -> PasswordVerification
    {
        let stored = try PHCString(parsing: storedHash)
        return try await verify(secret: password, against: stored)
    }

    /// Spends the same time as a real ``verify(_:against:)`` and always answers ``PasswordVerification/invalid``.
    ///
    /// Call it when the account does not exist, so "unknown user" and "wrong password" cannot be told
    /// apart by timing. A convenience for ``verifyUnknownAccount(secret:)``.
    public func verifyUnknownAccount(_ password: String) async -> PasswordVerification {
        guard let secret = try? PasswordSecret(password) else { return .invalid }
        return await verifyUnknownAccount(secret: secret)
    }

    /// ``verifyUnknownAccount(_:)`` for a password held in guarded memory: the same Argon2id work
    /// as ``verify(secret:against:)``, always ``PasswordVerification/invalid``.
    public func verifyUnknownAccount(secret password: PasswordSecret) async -> PasswordVerification {
        _ = try? await verify(secret: password, against: unknownAccountHash)
        return .invalid
    }

    /// The most Argon2 computations that have run at once since this hasher was created.
    package var peakConcurrentHashes: Int { pool.peakConcurrency }

    private func verify(secret password: PasswordSecret, against stored: PHCString) async throws(PasswordHashingError)
        -> PasswordVerification
    {
        let pepper = try pepper(for: stored)
        return try await verify(secret: try password.normalizedSecret(), pepper: pepper, against: stored)
    }

    /// The pepper `stored` names, or `nil` for an unpeppered hash.
    private func pepper(for stored: PHCString) throws(PasswordHashingError) -> PasswordPepper? {
        guard let id = stored.pepperID else { return nil }
        guard let known = configuration.peppers?.pepper(id: id) else { throw .unknownPepper(id: id) }
        return known
    }

    private func verify(secret: SecretBytes, pepper: PasswordPepper?, against stored: PHCString)
        async throws(PasswordHashingError) -> PasswordVerification
    {
        let matches = await pool.run { () -> Result<Bool, PasswordHashingError> in
            Result { () throws(PasswordHashingError) -> Bool in
                var tag = try Self.computeTag(
                    password: secret, salt: stored.salt, pepper: pepper, variant: stored.variant,
                    version: stored.version, parameters: stored.parameters, tagLength: stored.hash.count)
                defer { Sodium.zero(&tag) }
                return Sodium.constantTimeEqual(tag, stored.hash)
            }
        }
        guard try matches.get() else { return .invalid }
        let reasons = rehashReasons(stored)
        return reasons.isEmpty ? .valid : .validNeedsRehash(reasons)
    }

    private func rehashReasons(_ stored: PHCString) -> Set<RehashReason> {
        var reasons: Set<RehashReason> = []
        if stored.variant != .argon2id { reasons.insert(.algorithm) }
        if stored.version != .v19 { reasons.insert(.version) }
        if !stored.parameters.isAtLeast(configuration.parameters) { reasons.insert(.parameters) }
        if stored.salt.count < Self.saltLength || stored.hash.count < Self.tagLength {
            reasons.insert(.saltOrHashLength)
        }
        if stored.pepperID != configuration.peppers?.current.id { reasons.insert(.pepper) }
        return reasons
    }

    private static func computeTag(
        password: SecretBytes, salt: [UInt8], pepper: PasswordPepper?, variant: Argon2Variant,
        version: Argon2Version, parameters: Argon2Parameters, tagLength: Int
    ) throws(PasswordHashingError) -> [UInt8] {
        try password.withUnsafeBytes { (passwordBytes) throws(PasswordHashingError) -> [UInt8] in
            guard let pepper else {
                return try Argon2.tag(
                    variant: variant, version: version, parameters: parameters, password: passwordBytes, salt: salt,
                    tagLength: tagLength)
            }
            return try pepper.secret.withUnsafeBytes { (pepperBytes) throws(PasswordHashingError) -> [UInt8] in
                try Argon2.tag(
                    variant: variant, version: version, parameters: parameters, password: passwordBytes, salt: salt,
                    secret: pepperBytes, tagLength: tagLength)
            }
        }
    }
}
