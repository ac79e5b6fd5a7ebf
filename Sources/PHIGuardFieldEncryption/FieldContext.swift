/// Where an encrypted value lives: the table (or collection), the record id and the field name,
/// plus optional extra context. It is authenticated with every ciphertext, so a value copied into
/// another row, another field or another table does not decrypt.
///
/// ```swift
/// let context = FieldContext(table: "patients", recordID: "42", field: "ssn")
/// let envelope = try encryptor.encrypt("078-05-1120", context: context)
/// ```
///
/// Use a record id that never changes for the row's life (a primary key, not an MRN that can be
/// corrected), or re-encrypt the row's fields when it changes.
public struct FieldContext: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The longest table, record id or field name, in UTF-8 bytes.
    public static let maximumComponentByteCount = 1024
    /// The longest extra context, in UTF-8 bytes.
    public static let maximumExtraByteCount = 4096

    /// The table or collection name.
    public var table: String
    /// The record's stable identifier.
    public var recordID: String
    /// The field (column) name.
    public var field: String
    /// Optional extra context (a tenant id, a schema version); `nil` and `""` are different contexts.
    public var extra: String?

    /// A context for `field` of record `recordID` in `table`.
    public init(table: String, recordID: String, field: String, extra: String? = nil) {
        self.table = table
        self.recordID = recordID
        self.field = field
        self.extra = extra
    }

    /// Orders by table, record id, field, then extra (the order the re-encryption job walks rows in).
    public static func < (lhs: FieldContext, rhs: FieldContext) -> Bool {
        if (lhs.table, lhs.recordID, lhs.field) != (rhs.table, rhs.recordID, rhs.field) {
            return (lhs.table, lhs.recordID, lhs.field) < (rhs.table, rhs.recordID, rhs.field)
        }
        switch (lhs.extra, rhs.extra) {
        case (nil, nil), (.some, nil): return false
        case (nil, .some): return true
        case (.some(let left), .some(let right)): return left < right
        }
    }

    /// Table and field only: the record id may itself identify a patient.
    public var description: String { "FieldContext(table: \(table), field: \(field))" }

    /// Throws ``FieldEncryptionError/invalidContext(_:)`` unless every component is 1…1024 bytes
    /// (extra: 0…4096). Allocation-free: it runs on every encryption and decryption.
    func validate() throws(FieldEncryptionError) {
        try Self.check(table, "table")
        try Self.check(recordID, "record id")
        try Self.check(field, "field")
        if let extra, extra.utf8.count > Self.maximumExtraByteCount {
            throw .invalidContext("extra context is longer than \(Self.maximumExtraByteCount) bytes")
        }
    }

    private static func check(_ value: String, _ name: StaticString) throws(FieldEncryptionError) {
        let count = value.utf8.count
        guard count > 0 else { throw .invalidContext("\(name) is empty") }
        guard count <= maximumComponentByteCount else {
            throw .invalidContext("\(name) is longer than \(maximumComponentByteCount) bytes")
        }
    }

    /// The exact length of the context's share of the associated data (see ``withAssociatedData(header:_:)``).
    var encodedByteCount: Int {
        Self.label.count + 12 + table.utf8.count + recordID.utf8.count + field.utf8.count + 1
            + (extra.map { 4 + $0.utf8.count } ?? 0)
    }

    /// Gives `body` the associated data: `header`, the label `PHIGuard.field.v1`, then table, record
    /// id and field each length-prefixed (4-byte big-endian), then `0x00`, or `0x01` and the
    /// length-prefixed extra context. No two different contexts encode to the same bytes. The bytes
    /// are in stack (or, when large, temporary heap) memory: no array is allocated on the hot path.
    func withAssociatedData<R>(
        header: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> R
    ) -> R {
        let total = header.count + encodedByteCount
        return withUnsafeTemporaryAllocation(byteCount: total, alignment: 1) { buffer in
            // A writer struct rather than nested functions capturing `offset`: captured variables
            // would get dynamic exclusivity checks on every call.
            var writer = AssociatedDataWriter(buffer: buffer)
            writer.put(header)
            Self.label.withUnsafeBytes { writer.put($0) }
            writer.putLengthPrefixed(table)
            writer.putLengthPrefixed(recordID)
            writer.putLengthPrefixed(field)
            if let extra {
                writer.putByte(1)
                writer.putLengthPrefixed(extra)
            } else {
                writer.putByte(0)
            }
            return body(UnsafeRawBufferPointer(rebasing: buffer[0..<writer.offset]))
        }
    }

    static let label = Array("PHIGuard.field.v1".utf8)

    static func appendLengthPrefixed(_ text: String, to bytes: inout [UInt8]) {
        let count = UInt32(truncatingIfNeeded: text.utf8.count)
        bytes.append(UInt8(truncatingIfNeeded: count >> 24))
        bytes.append(UInt8(truncatingIfNeeded: count >> 16))
        bytes.append(UInt8(truncatingIfNeeded: count >> 8))
        bytes.append(UInt8(truncatingIfNeeded: count))
        bytes.append(contentsOf: text.utf8)
    }
}

/// Appends bytes to a buffer sized by ``FieldContext/encodedByteCount`` (plus the header).
private struct AssociatedDataWriter {
    let buffer: UnsafeMutableRawBufferPointer
    var offset = 0

    mutating func put(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, bytes.count > 0, let target = buffer.baseAddress else { return }
        (target + offset).copyMemory(from: source, byteCount: bytes.count)
        offset += bytes.count
    }

    mutating func putByte(_ byte: UInt8) {
        buffer[offset] = byte
        offset += 1
    }

    mutating func putLengthPrefixed(_ text: String) {
        let count = UInt32(truncatingIfNeeded: text.utf8.count)
        putByte(UInt8(truncatingIfNeeded: count >> 24))
        putByte(UInt8(truncatingIfNeeded: count >> 16))
        putByte(UInt8(truncatingIfNeeded: count >> 8))
        putByte(UInt8(truncatingIfNeeded: count))
        if let copied = text.utf8.withContiguousStorageIfAvailable({ put(UnsafeRawBufferPointer($0)) }) {
            return copied
        }
        for byte in text.utf8 { putByte(byte) }
    }
}
