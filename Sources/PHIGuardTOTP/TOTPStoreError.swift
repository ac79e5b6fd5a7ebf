/// Why a durable ``TOTPReplayStore`` or ``RecoveryCodeStore`` (the SQLite and PostgreSQL backends)
/// could not answer.
///
/// No case carries an account id, a code, a hash, a stored value or a database message:
/// descriptions are safe to log. ``TOTPVerifier`` and ``RecoveryCodeHasher`` refuse (fail closed)
/// whenever a store throws.
public enum TOTPStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The database could not be opened or queried, or did not answer in time; the payload is the
    /// underlying error's type name only.
    case unavailable(String)
    /// A stored row holds a value no PHIGuard store writes (a negative or out-of-range step, a hash
    /// that is not 32 bytes, a cell of the wrong type): someone else wrote the table. The payload
    /// names the column.
    case corruptRecord(String)
    /// A step that does not fit the store's signed 64-bit column (after year 292 billion at 30 s
    /// steps: only a forged or broken clock produces one).
    case stepOutOfRange
    /// A table name or prefix that is not 1–40 of `a–z 0–9 _` starting with a letter.
    case invalidTableName

    /// A fixed text for the case.
    public var description: String {
        switch self {
        case .unavailable(let type): "TOTP/recovery-code store unavailable (\(type))"
        case .corruptRecord(let column): "TOTP/recovery-code store row holds an impossible value in '\(column)'"
        case .stepOutOfRange: "TOTP step out of the store's range"
        case .invalidTableName: "table name must be 1-40 of a-z 0-9 _ starting with a letter"
        }
    }
}
