/// An event as stored: its place in the log and its chain value.
///
/// `chain` is `HMAC-SHA256(chainKey, previousChain ‖ canonical(sequence, event))` (see
/// <doc:RecordFormat>), so nobody without the chain key can change, add, remove or reorder
/// records without verification noticing.
public struct AuditRecord: Sendable, Hashable {
    /// The position in the log, starting at 1, without gaps.
    public let sequence: UInt64
    /// The event.
    public let event: AuditEvent
    /// The 32-byte chain value.
    public let chain: [UInt8]

    /// A record as read from storage (nothing is checked here; ``AuditVerifier`` checks).
    public init(sequence: UInt64, event: AuditEvent, chain: [UInt8]) {
        self.sequence = sequence
        self.event = event
        self.chain = chain
    }
}

/// One entry of a stored log, in storage order: a record, or something that could not be read
/// as one (a torn or edited line, a row with a bad column).
public enum AuditLogEntry: Sendable, Hashable {
    /// A record that parsed.
    case record(AuditRecord)
    /// An entry that did not parse; verification reports it as ``AuditChainBreak/Kind/unreadable``.
    case unreadable
}

/// The canonical byte encoding of a record that the chain authenticates (version 1).
///
/// Specified in <doc:RecordFormat> so a third party can verify a log. All integers big-endian.
/// ```
/// "PGA1" u64 sequence  i64 timestamp  str kind
/// opt actorID  opt actorRole  opt sessionID  opt action  opt resourceType  opt resourceID  opt patientID
/// list fields  str outcome  opt reason  list ruleIDs  u8 breakGlass  opt breakGlassReason
/// optu64 relatedSequence  u32 attributeCount (str key, str value)* sorted by key bytes
/// str = u32 length ‖ UTF-8   opt = 0x00 | 0x01 str   list = u32 count ‖ str*   optu64 = 0x00 | 0x01 u64
/// ```
package enum AuditCanonicalEncoding {
    /// The four magic bytes that start every version-1 encoding.
    static let magic: [UInt8] = Array("PGA1".utf8)

    /// Appends the canonical encoding of (`sequence`, `event`) to `buffer`.
    package static func encode(sequence: UInt64, event: AuditEvent, into buffer: inout [UInt8]) {
        buffer.append(contentsOf: magic)
        appendUInt64(sequence, &buffer)
        appendUInt64(UInt64(bitPattern: event.timestamp), &buffer)
        appendString(event.kind.rawValue, &buffer)
        appendOptional(event.actorID, &buffer)
        appendOptional(event.actorRole, &buffer)
        appendOptional(event.sessionID, &buffer)
        appendOptional(event.action, &buffer)
        appendOptional(event.resourceType, &buffer)
        appendOptional(event.resourceID, &buffer)
        appendOptional(event.patientID, &buffer)
        appendList(event.fields, &buffer)
        appendString(event.outcome.rawValue, &buffer)
        appendOptional(event.reason, &buffer)
        appendList(event.ruleIDs, &buffer)
        buffer.append(event.breakGlass ? 1 : 0)
        appendOptional(event.breakGlassReason, &buffer)
        if let related = event.relatedSequence {
            buffer.append(1)
            appendUInt64(related, &buffer)
        } else {
            buffer.append(0)
        }
        appendUInt32(UInt32(truncatingIfNeeded: event.attributes.count), &buffer)
        if event.attributes.count == 1, let only = event.attributes.first {
            appendString(only.key, &buffer)
            appendString(only.value, &buffer)
        } else {
            for (key, value) in event.attributes.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
                appendString(key, &buffer)
                appendString(value, &buffer)
            }
        }
    }

    /// The canonical encoding as a new array.
    package static func encode(sequence: UInt64, event: AuditEvent) -> [UInt8] {
        var buffer: [UInt8] = []
        encode(sequence: sequence, event: event, into: &buffer)
        return buffer
    }

    @inline(__always)
    static func appendUInt64(_ value: UInt64, _ buffer: inout [UInt8]) {
        for shift in stride(from: 56, through: 0, by: -8) {
            buffer.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }

    @inline(__always)
    static func appendUInt32(_ value: UInt32, _ buffer: inout [UInt8]) {
        buffer.append(UInt8(truncatingIfNeeded: value >> 24))
        buffer.append(UInt8(truncatingIfNeeded: value >> 16))
        buffer.append(UInt8(truncatingIfNeeded: value >> 8))
        buffer.append(UInt8(truncatingIfNeeded: value))
    }

    @inline(__always)
    static func appendString(_ value: String, _ buffer: inout [UInt8]) {
        let utf8 = value.utf8
        appendUInt32(UInt32(truncatingIfNeeded: utf8.count), &buffer)
        buffer.append(contentsOf: utf8)
    }

    @inline(__always)
    static func appendOptional(_ value: String?, _ buffer: inout [UInt8]) {
        if let value {
            buffer.append(1)
            appendString(value, &buffer)
        } else {
            buffer.append(0)
        }
    }

    @inline(__always)
    static func appendList(_ values: [String], _ buffer: inout [UInt8]) {
        appendUInt32(UInt32(truncatingIfNeeded: values.count), &buffer)
        for value in values { appendString(value, &buffer) }
    }
}
