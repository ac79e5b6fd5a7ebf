internal import PHIGuardCrypto

/// The server key that seals stored authorization data: session records, the reference account
/// directories' rows and care-team memberships (see <doc:SealedAuthorizationData>).
///
/// A sealed row carries a keyed BLAKE2b-256 MAC over every authorization-relevant column, bound to
/// its table and row id; a row edited by anyone who can write the database but does not hold this
/// key (an SQL injection elsewhere in the app, a restored or doctored backup) fails the check and
/// is refused. Keep the key **out of the database**: load it from a key file or a secrets manager.
/// Every instance that shares the database needs the same key. The bytes live in guarded memory;
/// `description` never shows them.
///
/// ```swift
/// var bytes = try loadKeyBytes()                        // 32 bytes from your key store
/// let sealing = try RowSealingKey(bytes: &bytes)         // `bytes` is zeroed
/// let flow = try LoginFlow(accounts: directory, sessions: sqliteSessions, …, sealingKey: sealing)
/// ```
public struct RowSealingKey: Sendable, CustomStringConvertible {
    /// The key length in bytes.
    public static let byteCount = 32

    let sealer: RowSealer

    /// Takes `bytes` (exactly 32) as the key and zeroes the caller's array.
    public init(bytes: inout [UInt8]) throws(RowSealingKeyError) {
        guard bytes.count == Self.byteCount else {
            Sodium.zero(&bytes)
            throw .invalidLength(bytes.count)
        }
        do { sealer = try RowSealer(key: &bytes) } catch { throw .secureMemoryFailure(error.description) }
    }

    /// Reads a key from its base64 text (a key file's contents; surrounding ASCII whitespace is ignored).
    public init(base64 text: String) throws(RowSealingKeyError) {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" }
        let trimmed = text.drop(while: isSpace).reversed().drop(while: isSpace).reversed()
        guard var bytes = Base64.decode(String(trimmed), variant: .standard) else { throw .notBase64 }
        try self.init(bytes: &bytes)
    }

    private init(sealer: RowSealer) {
        self.sealer = sealer
    }

    /// A new random key. Rows sealed with it verify only in this process (while it holds the key):
    /// right for stores that do not outlive the process, wrong for a shared database.
    public static func generate() throws(RowSealingKeyError) -> RowSealingKey {
        do { return RowSealingKey(sealer: try RowSealer(randomKey: ())) } catch {
            throw .secureMemoryFailure(error.description)
        }
    }

    /// Always `RowSealingKey(<redacted>)`.
    public var description: String { "RowSealingKey(<redacted>)" }

    /// The seal of a row of your own tables (for an app's own `AccountDirectory`): a 32-byte MAC
    /// over `purpose` (name the table and a format version, for example `"app_accounts.v1"`), the
    /// row's primary key `rowID` and `values` in a fixed order, each unambiguously encoded.
    public func seal(purpose: String, rowID: String, values: [SealedValue]) -> [UInt8] {
        sealer.seal(purpose: purpose, rowID: rowID, fields: values.map(\.field))
    }

    /// Whether `seal` is the seal of the row (constant-time comparison). `nil` or a seal of the wrong
    /// length never verifies, so rows written before sealing was introduced are refused.
    public func verify(_ seal: [UInt8]?, purpose: String, rowID: String, values: [SealedValue]) -> Bool {
        sealer.verify(seal, purpose: purpose, rowID: rowID, fields: values.map(\.field))
    }
}

/// One column value of a row sealed with ``RowSealingKey/seal(purpose:rowID:values:)``.
public enum SealedValue: Sendable, Hashable {
    /// No value (`NULL`).
    case absent
    /// Text, as its exact UTF-8 bytes.
    case text(String)
    /// An integer (a timestamp in microseconds, a count).
    case integer(Int64)
    /// A flag.
    case bool(Bool)
    /// Bytes.
    case bytes([UInt8])
    /// An ordered list of texts (roles).
    case texts([String])
    /// A text map (subject attributes), encoded in the byte order of its keys.
    case map([String: String])

    /// ``text(_:)``, or ``absent`` for `nil`.
    public static func optional(_ value: String?) -> SealedValue { value.map(SealedValue.text) ?? .absent }

    var field: RowSealField {
        switch self {
        case .absent: .absent
        case .text(let value): .text(value)
        case .integer(let value): .integer(value)
        case .bool(let value): .bool(value)
        case .bytes(let value): .bytes(value)
        case .texts(let value): .texts(value)
        case .map(let value): .map(value)
        }
    }
}

/// Why a ``RowSealingKey`` could not be made. Never carries key bytes.
public enum RowSealingKeyError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The key is not 32 bytes (the payload is the length given).
    case invalidLength(Int)
    /// The key text is not base64.
    case notBase64
    /// Guarded memory could not be allocated, or libsodium is unavailable.
    case secureMemoryFailure(String)

    /// What is wrong, without key bytes.
    public var description: String {
        switch self {
        case .invalidLength(let count): "a row-sealing key is \(RowSealingKey.byteCount) bytes, not \(count)"
        case .notBase64: "row-sealing key text is not base64"
        case .secureMemoryFailure(let reason): "row-sealing key: \(reason)"
        }
    }
}

/// A stored row that failed its seal check: edited, or copied from another row, by someone without
/// the ``RowSealingKey`` (or written before sealing was introduced). Thrown by the reference account
/// directories and care-team stores; `LoginFlow` refuses the row and audits
/// `integrity.tamper-detected`. The description names the table only, never the row.
public struct TamperedRowError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The table (or purpose) of the row, for example `phiguard_accounts`.
    public let table: String
    /// The row's primary key (an account id, a membership id): for the audit record, not for users.
    public let rowID: String

    /// A tampering report for row `rowID` of `table`.
    public init(table: String, rowID: String) {
        self.table = table
        self.rowID = rowID
    }

    /// `stored row of <table> failed its seal check`.
    public var description: String { "stored row of \(table) failed its seal check" }
}
