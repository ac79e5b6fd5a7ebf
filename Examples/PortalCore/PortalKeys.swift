internal import PHIGuardAudit
internal import PHIGuardAuthentication
internal import PHIGuardCrypto
internal import PHIGuardFieldEncryption
internal import PHIGuardKeys
internal import PHIGuardTOTP

/// Every key a ``Portal`` uses, loaded at once from its `KeyDirectory` (PHIGuardKeys): the portal never
/// opens a key file itself, and every load checks the directory (owner, not group/world writable, not a
/// link) and the file (owner, 0600, not a link). A refusal is ``PortalError/keys(_:)``.
///
/// | File | What |
/// |---|---|
/// | `field.keys` | field-encryption keyring: PHI columns, TOTP secrets, break-glass justifications |
/// | `index.keys` | root key of the patient-index blind indexes (kept apart: it does not rotate with `field.keys`) |
/// | `chain.key`, `signing.key`, `signing.pub` | audit chain HMAC key, checkpoint Ed25519 seed and public key |
/// | `digest.key` | the key of the rate-limit and lockout stores' key digests |
/// | `sealing.key` | the `RowSealingKey` sealing session, account and care-team rows |
///
/// Two keys are derived from the sealing key with a keyed BLAKE2b under their own purpose string
/// (domain separated from every row seal): the list-cursor MAC key and the recovery-code hasher key.
struct PortalKeys {
    let fieldKeyring: Keyring
    let blindIndexRoot: FieldKey
    let chainKey: AuditChainKey
    let signingKey: AuditSigningKey
    let sealingKey: RowSealingKey
    private let directory: KeyDirectory

    init(directory path: String) throws {
        directory = KeyDirectory(path: path)
        do {
            fieldKeyring = try directory.fieldKeyring()
            blindIndexRoot = try directory.blindIndexKeyring().active
            chainKey = try directory.auditChainKey()
            signingKey = try directory.auditSigningKey()
            sealingKey = try directory.rowSealingKey()
        } catch {
            throw PortalError(error)
        }
    }

    /// A fresh `DigestSecret` (each store owns the one it is given).
    func digestSecret() throws -> DigestSecret {
        do { return try directory.digestSecret() } catch { throw PortalError(error) }
    }

    /// 32 bytes for the list cursors' MAC (`GuardedRecords.useCursorKey`), stable across runs.
    func cursorKey() -> [UInt8] {
        sealingKey.seal(purpose: "patient-portal.list-cursor-key", rowID: "v1", values: [])
    }

    /// The recovery-code hasher, keyed with 32 derived bytes (a stolen database alone cannot test codes).
    func recoveryCodeHasher() throws -> RecoveryCodeHasher {
        var key = sealingKey.seal(purpose: "patient-portal.recovery-code-key", rowID: "v1", values: [])
        defer { Sodium.zero(&key) }
        return try RecoveryCodeHasher(key: key)
    }
}
