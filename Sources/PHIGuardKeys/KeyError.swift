/// Why a key could not be created, loaded or trusted. Every case names the file (or, for a
/// ``KeySource`` that is not a directory, the key) and the problem; none carries key bytes or text.
public enum KeyError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The key directory does not exist.
    case directoryMissing(path: String)
    /// The path is a symbolic link. Key directories and key files are never reached through a link,
    /// because whoever can change the link chooses the key.
    case symbolicLink(path: String)
    /// The key directory path is not a directory.
    case notADirectory(path: String)
    /// The directory or file belongs to another user (`owner` is its uid; `expected` the process's).
    case wrongOwner(path: String, owner: UInt32, expected: UInt32)
    /// Group or others may create, rename or delete files in the key directory (`mode` in octal).
    case directoryWritableByOthers(path: String, mode: String)
    /// The key file is accessible to its group or to others (`mode` in octal); it must be 0600 or 0400.
    case fileAccessibleByOthers(path: String, mode: String)
    /// The key file is a directory, device, FIFO or socket.
    case notRegularFile(path: String)
    /// The key file does not exist.
    case keyMissing(path: String, key: KeyKind)
    /// The key file exists but its contents are not a valid key of its kind (the reason never quotes the contents).
    case malformed(path: String, reason: String)
    /// The key file is larger than any key of its kind.
    case tooLarge(path: String, limit: Int)
    /// Creating a key directory found a key file in place (keys are never overwritten).
    case exists(path: String)
    /// A system call on the file failed (`operation` names it, `errno` its error number).
    case io(path: String, operation: String, errno: Int32)
    /// A ``KeySource`` other than the directory (a KMS, an HSM) could not supply `key`; `reason` is its own words.
    case unavailable(key: KeyKind, reason: String)
    /// Guarded memory for the key could not be allocated, or libsodium is unavailable.
    case secureMemory(reason: String)

    /// The file or key the error is about.
    public var subject: String {
        switch self {
        case .directoryMissing(let path), .symbolicLink(let path), .notADirectory(let path),
            .wrongOwner(let path, _, _), .directoryWritableByOthers(let path, _), .fileAccessibleByOthers(let path, _),
            .notRegularFile(let path), .keyMissing(let path, _), .malformed(let path, _), .tooLarge(let path, _),
            .exists(let path), .io(let path, _, _):
            path
        case .unavailable(let key, _): key.rawValue
        case .secureMemory: "secure memory"
        }
    }

    /// The problem, without the subject.
    public var problem: String {
        switch self {
        case .directoryMissing: "key directory does not exist"
        case .symbolicLink: "is a symbolic link; key directories and key files must not be links"
        case .notADirectory: "is not a directory"
        case .wrongOwner(_, let owner, let expected): "belongs to uid \(owner), not to uid \(expected) running PHIGuard"
        case .directoryWritableByOthers(_, let mode): "key directory has mode \(mode); group or others may write to it"
        case .fileAccessibleByOthers(_, let mode): "key file has mode \(mode); group or others may access it"
        case .notRegularFile: "is not a regular file"
        case .keyMissing(_, let key): "\(key.rawValue) key file does not exist"
        case .malformed(_, let reason): "is not a valid key file: \(reason)"
        case .tooLarge(_, let limit): "is larger than \(limit) bytes"
        case .exists: "already exists; keys are never overwritten"
        case .io(_, let operation, let code): "\(operation) failed (errno \(code))"
        case .unavailable(_, let reason): "could not be supplied: \(reason)"
        case .secureMemory(let reason): reason
        }
    }

    /// The fix an operator applies.
    public var fix: String {
        switch self {
        case .directoryMissing(let path): "create it with `phiguard keys init --dir \(path)`"
        case .symbolicLink(let path): "replace the link \(path) by the real directory or file"
        case .notADirectory(let path): "point the key directory at a directory, not \(path)"
        case .wrongOwner(let path, _, let expected): "chown \(expected) \(path) (or run PHIGuard as its owner)"
        case .directoryWritableByOthers(let path, _): "chmod 700 \(path)"
        case .fileAccessibleByOthers(let path, _): "chmod 600 \(path)"
        case .notRegularFile(let path): "replace \(path) by the key file"
        case .keyMissing(let path, _): "restore \(path) from the key backup, or create the directory afresh"
        case .malformed(let path, _): "restore \(path) from the key backup"
        case .tooLarge(let path, _): "restore \(path) from the key backup"
        case .exists(let path): "use a new, empty directory (or remove \(path) if it is truly unused)"
        case .io: "check the file system and the process's permissions"
        case .unavailable: "check the key service"
        case .secureMemory: "raise RLIMIT_MEMLOCK or check that libsodium initialises"
        }
    }

    /// `subject: problem`: names the file and the problem, never the key.
    public var description: String { "\(subject): \(problem)" }
}

/// The keys PHIGuard needs, each in its own file of a ``KeyDirectory``.
public enum KeyKind: String, Sendable, Hashable, CaseIterable, Codable {
    /// The field-encryption keyring (`field.keys`, `KeyringFile` format): PHI columns, TOTP secrets.
    case fieldKeyring = "field"
    /// The blind-index root keyring (`index.keys`, `KeyringFile` format), kept apart from the field
    /// keyring because it must not rotate with it (a rotation would change every index value).
    case blindIndexRoot = "blind-index"
    /// The audit chain HMAC key (`chain.key`, 32 bytes base64).
    case auditChain = "audit-chain"
    /// The audit checkpoint Ed25519 seed (`signing.key`, 32 bytes base64).
    case auditSigning = "audit-signing"
    /// The key of stored-key digests in the rate-limit and lockout stores (`digest.key`, 32 bytes base64).
    case digestSecret = "digest"
    /// The key that encrypts backups (`backup.key`, the ``BackupKey`` file format).
    case backup = "backup"
    /// The key that seals session, account and care-team rows (`sealing.key`, 32 bytes base64).
    case rowSealing = "row-sealing"

    /// The file name inside a ``KeyDirectory``.
    public var fileName: String {
        switch self {
        case .fieldKeyring: "field.keys"
        case .blindIndexRoot: "index.keys"
        case .auditChain: "chain.key"
        case .auditSigning: "signing.key"
        case .digestSecret: "digest.key"
        case .backup: "backup.key"
        case .rowSealing: "sealing.key"
        }
    }
}
