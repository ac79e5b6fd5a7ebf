public import Logging
internal import PHIGuardCrypto

/// Encrypts and decrypts field values in envelopes bound to their ``FieldContext``.
///
/// ```swift
/// let encryptor = FieldEncryptor(keyring: try KeyFileProvider(path: "/etc/phiguard/field.keys").keyring())
/// let context = FieldContext(table: "patients", recordID: patient.id, field: "ssn")
/// let stored = try encryptor.encrypt("078-05-1120", context: context).text   // into a TEXT column
/// let ssn = try encryptor.decryptString(try FieldEnvelope(text: stored), context: context)
/// ```
///
/// Each (root key, table, field) gets its own subkey (see ``FieldKey``), derived on first use and
/// cached in read-only guarded memory for the encryptor's life. Every refusal to decrypt is
/// ``FieldEncryptionError/decryptionFailed``; the internal reason is logged at `debug` level.
public final class FieldEncryptor: Sendable {
    /// The keyring this encryptor uses.
    public let keyring: Keyring
    private let logger: Logger
    private let subkeys = Locked(SubkeyCache())
    /// The most subkeys kept; beyond this (an unusual schema) subkeys are derived per call.
    static let maximumCachedSubkeys = 4096

    /// An encryptor over `keyring`. `logger` receives refusal reasons at `debug` level (never bytes,
    /// never record ids).
    public init(keyring: Keyring, logger: Logger = Logger(label: "PHIGuard.FieldEncryption")) {
        self.keyring = keyring
        self.logger = logger
    }

    // MARK: Encrypting

    /// Encrypts `plaintext` for `context` under the active key, with a fresh random nonce.
    public func encrypt(_ plaintext: [UInt8], context: FieldContext) throws(FieldEncryptionError) -> FieldEnvelope {
        var result: Result<FieldEnvelope, FieldEncryptionError> = .failure(.decryptionFailed)
        plaintext.withUnsafeBytes { bytes in
            result = Result { () throws(FieldEncryptionError) in try encrypt(bytes, context: context) }
        }
        return try result.get()
    }

    /// Encrypts the UTF-8 bytes of `text` for `context`.
    public func encrypt(_ text: String, context: FieldContext) throws(FieldEncryptionError) -> FieldEnvelope {
        try encrypt(Array(text.utf8), context: context)
    }

    func encrypt(_ plaintext: UnsafeRawBufferPointer, context: FieldContext) throws(FieldEncryptionError)
        -> FieldEnvelope
    {
        try context.validate()
        guard plaintext.count <= FieldEnvelope.maximumPlaintextByteCount else {
            throw .plaintextTooLong(maximumByteCount: FieldEnvelope.maximumPlaintextByteCount)
        }
        let key = keyring.active
        let subkey = try subkey(for: key, table: context.table, field: context.field)
        let idCount = key.idBytes.count
        let headerCount = 2 + idCount + FieldEnvelope.nonceByteCount
        let total = headerCount + plaintext.count + FieldEnvelope.tagByteCount
        var failure: AEAD.Failure?
        let bytes = [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            buffer[0] = FieldEnvelope.currentFormatVersion
            buffer[1] = UInt8(idCount)
            for (offset, byte) in key.idBytes.enumerated() { buffer[2 + offset] = byte }
            let raw = UnsafeMutableRawBufferPointer(buffer)
            let nonce = UnsafeMutableRawBufferPointer(rebasing: raw[(2 + idCount)..<headerCount])
            do { try Sodium.randomBytes(into: nonce) } catch {
                failure = .libsodiumUnavailable
                initialized = 0
                return
            }
            let header = UnsafeRawBufferPointer(rebasing: raw[0..<headerCount])
            // Results are returned, not written to captured variables (which cost dynamic
            // exclusivity checks inside closures handed to other modules).
            failure = context.withAssociatedData(header: header) { ad in
                subkey.withUnsafeBytes { keyBytes -> AEAD.Failure? in
                    do throws(AEAD.Failure) {
                        try AEAD.seal(
                            .xChaCha20Poly1305, message: plaintext, associatedData: ad,
                            nonce: UnsafeRawBufferPointer(nonce), key: keyBytes,
                            into: UnsafeMutableRawBufferPointer(rebasing: raw[headerCount...]))
                        return nil
                    } catch {
                        return error
                    }
                }
            }
            initialized = failure == nil ? total : 0
        }
        if let failure { throw .secureMemoryFailure(failure.description) }
        return FieldEnvelope(validatedBytes: bytes, keyID: key.id)
    }

    // MARK: Decrypting

    /// Decrypts `envelope` for `context`. Throws ``FieldEncryptionError/decryptionFailed`` for any
    /// refusal (tampered, truncated, unknown version, unknown or revoked key id, wrong context).
    public func decrypt(_ envelope: FieldEnvelope, context: FieldContext) throws(FieldEncryptionError) -> [UInt8] {
        try context.validate()
        do throws(EnvelopeRejection) {
            return try open(envelope, context: context)
        } catch {
            throw publicError(error, context: context)
        }
    }

    /// Decrypts a binary-form envelope (see ``decrypt(_:context:)``).
    public func decrypt(bytes: [UInt8], context: FieldContext) throws(FieldEncryptionError) -> [UInt8] {
        try context.validate()
        do throws(EnvelopeRejection) {
            return try open(try FieldEnvelope.parse(bytes), context: context)
        } catch {
            throw publicError(error, context: context)
        }
    }

    /// Decrypts a text-form envelope (`phgf:…`; see ``decrypt(_:context:)``).
    public func decrypt(text: String, context: FieldContext) throws(FieldEncryptionError) -> [UInt8] {
        try context.validate()
        do throws(EnvelopeRejection) {
            return try open(try FieldEnvelope.parse(text: text), context: context)
        } catch {
            throw publicError(error, context: context)
        }
    }

    /// Decrypts `envelope` and returns its plaintext as UTF-8 text (not UTF-8 → ``FieldEncryptionError/decryptionFailed``).
    public func decryptString(_ envelope: FieldEnvelope, context: FieldContext) throws(FieldEncryptionError) -> String {
        var bytes = try decrypt(envelope, context: context)
        defer { Sodium.zero(&bytes) }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            logger.debug(
                "field plaintext is not UTF-8", metadata: ["table": "\(context.table)", "field": "\(context.field)"])
            throw .decryptionFailed
        }
        return text
    }

    /// The decryption with the internal refusal reason (tests and the re-encryption job use it).
    package func open(_ envelope: FieldEnvelope, context: FieldContext) throws(EnvelopeRejection) -> [UInt8] {
        let key = try keyring.key(id: envelope.keyID)
        let subkey: SecretBytes
        do throws(FieldEncryptionError) {
            subkey = try self.subkey(for: key, table: context.table, field: context.field)
        } catch {
            throw .keyUnavailable(error.description)
        }
        let bytes = envelope.bytes
        let headerCount = envelope.headerByteCount
        let nonceRange = envelope.nonceRange
        let plaintextCount = bytes.count - headerCount - FieldEnvelope.tagByteCount
        var failed = false
        let plaintext = [UInt8](unsafeUninitializedCapacity: plaintextCount) { buffer, initialized in
            let output = UnsafeMutableRawBufferPointer(buffer)
            failed = bytes.withUnsafeBytes { raw in
                context.withAssociatedData(header: UnsafeRawBufferPointer(rebasing: raw[0..<headerCount])) { ad in
                    subkey.withUnsafeBytes { keyBytes -> Bool in
                        do throws(AEAD.Failure) {
                            try AEAD.open(
                                .xChaCha20Poly1305, ciphertext: UnsafeRawBufferPointer(rebasing: raw[headerCount...]),
                                associatedData: ad, nonce: UnsafeRawBufferPointer(rebasing: raw[nonceRange]),
                                key: keyBytes, into: output)
                            return false
                        } catch {
                            return true
                        }
                    }
                }
            }
            initialized = failed ? 0 : plaintextCount
        }
        if failed { throw .authenticationFailed }
        return plaintext
    }

    // MARK: Rotation

    /// `true` if `envelope` is not under the active key (or not in the current format), so a
    /// ``rewrap(_:context:)`` or ``ReencryptionJob`` should replace it.
    public func needsReencryption(_ envelope: FieldEnvelope) -> Bool {
        envelope.keyID != keyring.activeKeyID || envelope.formatVersion != FieldEnvelope.currentFormatVersion
    }

    /// Decrypts `envelope` (under any loaded key), encrypts the plaintext under the active key, and
    /// checks that the new envelope decrypts to the same bytes before returning it.
    public func rewrap(_ envelope: FieldEnvelope, context: FieldContext) throws(FieldEncryptionError) -> FieldEnvelope {
        var plaintext = try decrypt(envelope, context: context)
        defer { Sodium.zero(&plaintext) }
        let fresh = try encrypt(plaintext, context: context)
        guard var check = try? open(fresh, context: context) else { throw .verificationFailed }
        defer { Sodium.zero(&check) }
        guard Sodium.constantTimeEqual(check, plaintext) else { throw .verificationFailed }
        return fresh
    }

    // MARK: Keys

    /// The cached (or newly derived) subkey of `key` for `table`.`field`.
    func subkey(for key: FieldKey, table: String, field: String) throws(FieldEncryptionError) -> SecretBytes {
        if let cached = subkeys.withLock({ $0.lookup(keyID: key.id, table: table, field: field) }) { return cached }
        let derived = try SubkeyDerivation.derive(from: key, purpose: .fieldEncryption, table: table, field: field)
        return subkeys.withLock { cache in
            cache.insert(derived, keyID: key.id, table: table, field: field, limit: Self.maximumCachedSubkeys)
        }
    }

    private func publicError(_ rejection: EnvelopeRejection, context: FieldContext) -> FieldEncryptionError {
        logger.debug(
            "field envelope refused",
            metadata: ["reason": "\(rejection)", "table": "\(context.table)", "field": "\(context.field)"])
        if case .keyUnavailable(let reason) = rejection { return .secureMemoryFailure(reason) }
        return .decryptionFailed
    }
}

/// Derived subkeys by (root key id, table, field), with the last hit checked first: a run of
/// operations on one field then costs three short string comparisons, not a hash lookup.
struct SubkeyCache {
    struct Key: Hashable {
        var keyID: String
        var table: String
        var field: String
    }

    private var entries: [Key: SecretBytes] = [:]
    private var last: (key: Key, subkey: SecretBytes)?

    mutating func lookup(keyID: String, table: String, field: String) -> SecretBytes? {
        if let last, last.key.field == field, last.key.table == table, last.key.keyID == keyID {
            return last.subkey
        }
        let key = Key(keyID: keyID, table: table, field: field)
        guard let found = entries[key] else { return nil }
        last = (key, found)
        return found
    }

    /// Stores `subkey` unless another thread already did (then returns that one) or the cache is full.
    mutating func insert(_ subkey: SecretBytes, keyID: String, table: String, field: String, limit: Int)
        -> SecretBytes
    {
        let key = Key(keyID: keyID, table: table, field: field)
        if let raced = entries[key] { return raced }
        if entries.count < limit { entries[key] = subkey }
        last = (key, subkey)
        return subkey
    }
}
