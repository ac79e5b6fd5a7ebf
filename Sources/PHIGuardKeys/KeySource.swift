public import PHIGuardAudit
public import PHIGuardAuthentication
public import PHIGuardFieldEncryption

/// Where an application's keys come from: the one interface through which PHIGuard gets every key.
///
/// ``KeyDirectory`` is the embedded default (files on disk, checked on every load). A KMS or HSM
/// integration conforms to the same protocol and the application does not change.
///
/// ## Contract
/// - Each call returns the current key of its kind, or throws a ``KeyError``; never a partial or
///   default key. A provider that cannot reach its service throws ``KeyError/unavailable(key:reason:)``.
/// - Keys are handed out only as PHIGuard's key types (`Keyring`, `AuditChainKey`, `AuditSigningKey`,
///   `DigestSecret`, ``BackupKey``), whose bytes live in guarded memory and never print. A provider
///   decodes into those types and zeroes any buffer of its own before returning.
/// - Errors name the key or file and the problem; they never contain key bytes or text.
/// - Calls may come from any task at any time (conformers are `Sendable`); a provider may cache,
///   but a rotation must be visible to the next call.
/// - The public checkpoint key is not secret, so ``auditPublicKey()`` has a default: the signing
///   key's public half. A verifier-only deployment overrides it and throws for the signing key.
public protocol KeySource: Sendable {
    /// The field-encryption keyring (active key plus retired and revoked ids).
    func fieldKeyring() throws(KeyError) -> Keyring
    /// The blind-index root keyring (its active key is the `rootKey` of every `BlindIndex`).
    func blindIndexKeyring() throws(KeyError) -> Keyring
    /// The HMAC key chaining audit records.
    func auditChainKey() throws(KeyError) -> AuditChainKey
    /// The Ed25519 key signing audit checkpoints.
    func auditSigningKey() throws(KeyError) -> AuditSigningKey
    /// The public key verifying audit checkpoints.
    func auditPublicKey() throws(KeyError) -> AuditCheckpointPublicKey
    /// The key of stored-key digests (rate limits, lockout).
    func digestSecret() throws(KeyError) -> DigestSecret
    /// The key encrypting backups (`PHIGuardBackup`'s `DatabaseBackup` takes it).
    func backupKey() throws(KeyError) -> BackupKey
    /// The key sealing authorization data at rest (sessions, accounts, care teams).
    func rowSealingKey() throws(KeyError) -> RowSealingKey
}

extension KeySource {
    /// The signing key's public half.
    public func auditPublicKey() throws(KeyError) -> AuditCheckpointPublicKey {
        try auditSigningKey().publicKey
    }
}
