public import PHIGuardAudit
public import PHIGuardAuthentication
internal import PHIGuardCrypto
public import PHIGuardFieldEncryption

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// The key directory: every key PHIGuard needs, one file each, checked on every load.
///
/// | File | Mode | Key |
/// |---|---|---|
/// | `field.keys` | 0600 | ``KeySource/fieldKeyring()`` (`KeyringFile` format) |
/// | `index.keys` | 0600 | ``KeySource/blindIndexKeyring()`` (`KeyringFile` format) |
/// | `chain.key` | 0600 | ``KeySource/auditChainKey()`` (32 bytes, base64) |
/// | `signing.key` | 0600 | ``KeySource/auditSigningKey()`` (Ed25519 seed, base64) |
/// | `signing.pub` | 0644 | the checkpoint public key, for `phiguard audit verify` |
/// | `digest.key` | 0600 | ``KeySource/digestSecret()`` (32 bytes, base64) |
/// | `backup.key` | 0600 | ``KeySource/backupKey()`` (``BackupKey`` file: `phiguard-backup-key v1`, then base64) |
///
/// Before any key is read: the directory is not a symbolic link, belongs to the user running the
/// process and is not writable by group or others; each key file is a regular file (not a link),
/// belongs to that user and has no group or other permission bits. Each refusal is a ``KeyError``
/// naming the file and the problem. Key files are read with `O_NOFOLLOW` straight into guarded
/// memory and decoded there; no `String` or ordinary array holds key text.
///
/// ```swift
/// let keys = try KeyDirectory.create(at: "/etc/portal/keys")   // once, at installation
/// let keys = KeyDirectory(path: "/etc/portal/keys")            // every start
/// let encryptor = FieldEncryptor(keyring: try keys.fieldKeyring())
/// ```
public struct KeyDirectory: KeySource {
    /// The directory's path (trailing slashes removed).
    public let path: String

    /// The largest key file read (a keyring with many retired keys).
    static let maximumKeyringBytes = KeyringFile.maximumByteCount
    /// The largest single-key file read (32 bytes of base64 and whitespace leave plenty of room).
    static let maximumKeyBytes = 1024
    /// The public checkpoint key's file name.
    public static let publicKeyFileName = "signing.pub"

    /// A key directory at `path`. Nothing is read until a key is asked for.
    public init(path: String) {
        var trimmed = path
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.path = trimmed
    }

    /// The path of `kind`'s key file.
    public func filePath(_ kind: KeyKind) -> String { path + "/" + kind.fileName }

    // MARK: Creating

    /// Creates the directory (mode 0700) if it does not exist and writes a new random key of every
    /// kind, plus `signing.pub`. An existing directory must pass the checks and hold none of the key
    /// files: keys are never overwritten (``KeyError/exists(path:)``). On failure the files this call
    /// wrote are removed.
    @discardableResult
    public static func create(at path: String) throws(KeyError) -> KeyDirectory {
        let directory = KeyDirectory(path: path)
        if mkdir(directory.path, 0o700) != 0, errno != EEXIST {
            throw .io(path: directory.path, operation: "mkdir", errno: errno)
        }
        try directory.checkDirectory()
        for name in KeyKind.allCases.map(\.fileName) + [publicKeyFileName] {
            var status = stat()
            if lstat(directory.path + "/" + name, &status) == 0 { throw .exists(path: directory.path + "/" + name) }
        }
        var written: [String] = []
        do {
            for kind in KeyKind.allCases {
                try directory.writeNewKey(kind)
                written.append(directory.filePath(kind))
            }
            let publicKey = try directory.auditSigningKey().publicKey.base64
            let publicPath = directory.path + "/" + publicKeyFileName
            try write(Array((publicKey + "\n").utf8), to: publicPath, access: .publiclyReadable)
            written.append(publicPath)
        } catch {
            for file in written { unlink(file) }
            throw error
        }
        return directory
    }

    private func writeNewKey(_ kind: KeyKind) throws(KeyError) {
        var text: [UInt8]
        do {
            switch kind {
            case .fieldKeyring, .blindIndexRoot:
                let id = kind == .fieldKeyring ? "field-1" : "index-1"
                let keyring = try Keyring(active: try FieldKey.generate(id: id))
                text = KeyringFile.serialize(keyring)
            case .backup:
                text = try BackupKey.generate().fileContents()
            case .auditChain, .auditSigning, .digestSecret, .rowSealing:
                var bytes = try Sodium.randomBytes(count: 32)
                defer { Sodium.zero(&bytes) }
                text = Array((Base64.encode(bytes, variant: .standard) + "\n").utf8)
            }
        } catch {
            throw .secureMemory(reason: "\(error)")
        }
        defer { Sodium.zero(&text) }
        try Self.write(text, to: filePath(kind), access: .ownerOnly)
    }

    private static func write(_ bytes: [UInt8], to path: String, access: PrivateFile.Access) throws(KeyError) {
        do {
            try PrivateFile.write(bytes, to: path, access: access)
        } catch {
            throw KeyError(error, kind: nil)
        }
    }

    /// Replaces the field or blind-index keyring file atomically (for rotation: see `Keyring.rotated(to:)`).
    public func replaceKeyring(_ kind: KeyKind, with keyring: Keyring) throws(KeyError) {
        guard kind == .fieldKeyring || kind == .blindIndexRoot else {
            throw .malformed(path: filePath(kind), reason: "not a keyring file")
        }
        try checkDirectory()
        var text = KeyringFile.serialize(keyring)
        defer { Sodium.zero(&text) }
        do {
            try PrivateFile.write(text, to: filePath(kind), replacing: true)
        } catch {
            throw KeyError(error, kind: kind)
        }
    }

    // MARK: Checking

    /// Checks the directory itself: exists, not a link, a directory, owned by the effective user,
    /// not writable by group or others.
    public func checkDirectory() throws(KeyError) {
        var status = stat()
        guard lstat(path, &status) == 0 else {
            if errno == ENOENT { throw .directoryMissing(path: path) }
            throw .io(path: path, operation: "lstat", errno: errno)
        }
        if status.st_mode & S_IFMT == S_IFLNK { throw .symbolicLink(path: path) }
        guard status.st_mode & S_IFMT == S_IFDIR else { throw .notADirectory(path: path) }
        guard status.st_uid == geteuid() else {
            throw .wrongOwner(path: path, owner: UInt32(status.st_uid), expected: UInt32(geteuid()))
        }
        let permissions = status.st_mode & 0o7777
        guard permissions & 0o022 == 0 else {
            throw .directoryWritableByOthers(path: path, mode: "0" + String(permissions, radix: 8))
        }
    }

    /// Every problem of the directory and of each key file (an empty list means every key loads).
    /// Loads each key to check its contents, then drops it.
    public func problems() -> [KeyError] {
        do { try checkDirectory() } catch { return [error] }
        var found: [KeyError] = []
        for kind in KeyKind.allCases {
            do {
                switch kind {
                case .fieldKeyring: _ = try fieldKeyring()
                case .blindIndexRoot: _ = try blindIndexKeyring()
                case .auditChain: _ = try auditChainKey()
                case .auditSigning: _ = try auditSigningKey()
                case .digestSecret: _ = try digestSecret()
                case .backup: _ = try backupKey()
                case .rowSealing: _ = try rowSealingKey()
                }
            } catch {
                found.append(error)
            }
        }
        let publicPath = path + "/" + Self.publicKeyFileName
        var status = stat()
        if lstat(publicPath, &status) == 0 {
            if status.st_mode & S_IFMT == S_IFLNK {
                found.append(.symbolicLink(path: publicPath))
            } else if status.st_mode & 0o022 != 0 {
                found.append(
                    .fileAccessibleByOthers(path: publicPath, mode: "0" + String(status.st_mode & 0o7777, radix: 8)))
            }
        }
        return found
    }

    /// When each key file present was last modified (seconds since 1970), for rotation checks.
    public func modificationTimes() -> [KeyKind: Int64] {
        var times: [KeyKind: Int64] = [:]
        for kind in KeyKind.allCases {
            var status = stat()
            if lstat(filePath(kind), &status) == 0 { times[kind] = Int64(status.st_mtim.tv_sec) }
        }
        return times
    }

    // MARK: Loading

    /// Checks the directory and the file, then reads the file into guarded memory.
    func read(_ kind: KeyKind) throws(KeyError) -> SecretBytes {
        try checkDirectory()
        let file = filePath(kind)
        var status = stat()
        if lstat(file, &status) == 0, status.st_mode & S_IFMT == S_IFLNK { throw .symbolicLink(path: file) }
        let limit = kind == .fieldKeyring || kind == .blindIndexRoot ? Self.maximumKeyringBytes : Self.maximumKeyBytes
        do {
            return try PrivateFile.readSecret(file, maximumByteCount: limit)
        } catch {
            throw KeyError(error, kind: kind)
        }
    }

    private func keyring(_ kind: KeyKind) throws(KeyError) -> Keyring {
        let text = try read(kind)
        do {
            return try text.withUnsafeBytes { (bytes) throws(KeyProviderError) in try KeyringFile.parse(bytes) }
        } catch {
            throw .malformed(path: filePath(kind), reason: error.description)
        }
    }

    /// One 32-byte key from its base64 file, decoded straight into guarded memory.
    func rawKey(_ kind: KeyKind) throws(KeyError) -> SecretBytes {
        try Self.decodeKey(try read(kind), path: filePath(kind))
    }

    private static func decodeKey(_ text: SecretBytes, path: String) throws(KeyError) -> SecretBytes {
        guard let key = text.withUnsafeBytes({ Base64.decodeSecret($0, variant: .standard) }) else {
            throw .malformed(path: path, reason: "not canonical base64")
        }
        guard key.count == 32 else { throw .malformed(path: path, reason: "the key is not 32 bytes") }
        return key
    }

    /// An audit chain key from a single file outside a key directory (`phiguard audit verify
    /// --chain-key-file`): the file checks apply (not a link, regular, owned by the user, 0600/0400).
    public static func auditChainKey(file path: String) throws(KeyError) -> AuditChainKey {
        var status = stat()
        if lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFLNK { throw .symbolicLink(path: path) }
        let text: SecretBytes
        do { text = try PrivateFile.readSecret(path, maximumByteCount: maximumKeyBytes) } catch {
            throw KeyError(error, kind: .auditChain)
        }
        do { return try AuditChainKey(secret: try decodeKey(text, path: path)) } catch let error as KeyError {
            throw error
        } catch {
            throw .malformed(path: path, reason: "\(error)")
        }
    }

    /// The field-encryption keyring from `field.keys`.
    public func fieldKeyring() throws(KeyError) -> Keyring { try keyring(.fieldKeyring) }

    /// The blind-index root keyring from `index.keys`.
    public func blindIndexKeyring() throws(KeyError) -> Keyring { try keyring(.blindIndexRoot) }

    /// The audit chain key from `chain.key`.
    public func auditChainKey() throws(KeyError) -> AuditChainKey {
        let secret = try rawKey(.auditChain)
        do { return try AuditChainKey(secret: secret) } catch {
            throw .malformed(path: filePath(.auditChain), reason: error.description)
        }
    }

    /// The audit signing key from `signing.key`.
    public func auditSigningKey() throws(KeyError) -> AuditSigningKey {
        let seed = try rawKey(.auditSigning)
        do { return try AuditSigningKey(seed: seed) } catch {
            throw .malformed(path: filePath(.auditSigning), reason: error.description)
        }
    }

    /// The digest secret from `digest.key`.
    public func digestSecret() throws(KeyError) -> DigestSecret {
        let key = try rawKey(.digestSecret)
        do {
            return try key.withUnsafeBytes { bytes throws(DigestSecretError) in try DigestSecret(copying: bytes) }
        } catch {
            throw .secureMemory(reason: "the digest secret could not be held in guarded memory")
        }
    }

    /// The key that seals authorization data at rest (`sealing.key`; see `RowSealingKey`).
    public func rowSealingKey() throws(KeyError) -> RowSealingKey {
        let key = try rawKey(.rowSealing)
        var bytes = key.withUnsafeBytes { Array($0) }
        defer { Sodium.zero(&bytes) }
        do {
            return try RowSealingKey(bytes: &bytes)
        } catch {
            throw .secureMemory(reason: "the row-sealing key could not be held in guarded memory")
        }
    }

    /// The backup key from `backup.key` (the ``BackupKey`` file format, as `phiguard backup keygen` writes it).
    public func backupKey() throws(KeyError) -> BackupKey {
        try BackupKey.parse(try read(.backup), path: filePath(.backup))
    }
}

extension KeyError {
    /// The key error for a failure of the private-file layer.
    init(_ failure: PrivateFile.Failure, kind: KeyKind?) {
        switch failure {
        case .exists(let path): self = .exists(path: path)
        case .notFound(let path):
            self = kind.map { .keyMissing(path: path, key: $0) } ?? .io(path: path, operation: "open", errno: ENOENT)
        case .notRegularFile(let path): self = .notRegularFile(path: path)
        case .insecurePermissions(let path, let mode): self = .fileAccessibleByOthers(path: path, mode: mode)
        case .tooLarge(let path, let limit): self = .tooLarge(path: path, limit: limit)
        case .writeFailed(let path, let code): self = .io(path: path, operation: "write", errno: code)
        case .readFailed(let path, let code): self = .io(path: path, operation: "read", errno: code)
        case .wrongOwner(let path, let owner): self = .wrongOwner(path: path, owner: owner, expected: UInt32(geteuid()))
        case .empty(let path): self = .malformed(path: path, reason: "empty file")
        }
    }
}
