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
    /// The four magic bytes that start every version-1 encoding, read as a big-endian integer.
    static let magic: UInt32 = 0x5047_4131  // "PGA1"

    /// The length in bytes of the canonical encoding of `event` (the same for every sequence number).
    static func encodedCount(of event: AuditEvent) -> Int {
        func string(_ value: String) -> Int { 4 + value.utf8.count }
        func optional(_ value: String?) -> Int { value.map { 1 + string($0) } ?? 1 }
        func list(_ values: [String]) -> Int { values.reduce(4) { $0 + string($1) } }
        var count = 4 + 8 + 8 + string(event.kind.rawValue)
        count += optional(event.actorID) + optional(event.actorRole) + optional(event.sessionID)
        count += optional(event.action) + optional(event.resourceType) + optional(event.resourceID)
        count += optional(event.patientID) + list(event.fields) + string(event.outcome.rawValue)
        count += optional(event.reason) + list(event.ruleIDs) + 1 + optional(event.breakGlassReason)
        count += event.relatedSequence == nil ? 1 : 9
        count += 4
        for (key, value) in event.attributes { count += string(key) + string(value) }
        return count
    }

    /// Writes the canonical encoding of (`sequence`, `event`) into `destination`, which must be
    /// exactly ``encodedCount(of:)`` bytes (checked: every store is bounds-checked, and the
    /// encoding must fill the buffer).
    static func write(sequence: UInt64, event: AuditEvent, to destination: UnsafeMutableRawBufferPointer) {
        var writer = Writer(destination)
        writer.uint32(magic)
        writer.uint64(sequence)
        writer.uint64(UInt64(bitPattern: event.timestamp))
        writer.string(event.kind.rawValue)
        writer.optional(event.actorID)
        writer.optional(event.actorRole)
        writer.optional(event.sessionID)
        writer.optional(event.action)
        writer.optional(event.resourceType)
        writer.optional(event.resourceID)
        writer.optional(event.patientID)
        writer.list(event.fields)
        writer.string(event.outcome.rawValue)
        writer.optional(event.reason)
        writer.list(event.ruleIDs)
        writer.byte(event.breakGlass ? 1 : 0)
        writer.optional(event.breakGlassReason)
        if let related = event.relatedSequence {
            writer.byte(1)
            writer.uint64(related)
        } else {
            writer.byte(0)
        }
        writer.uint32(UInt32(truncatingIfNeeded: event.attributes.count))
        if event.attributes.count == 1, let only = event.attributes.first {
            writer.string(only.key)
            writer.string(only.value)
        } else if event.attributes.count > 1 {
            for (key, value) in event.attributes.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
                writer.string(key)
                writer.string(value)
            }
        }
        precondition(writer.cursor == writer.end, "encodedCount(of:) disagrees with write")
    }

    /// The canonical encoding as a new array.
    package static func encode(sequence: UInt64, event: AuditEvent) -> [UInt8] {
        let count = encodedCount(of: event)
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            write(sequence: sequence, event: event, to: UnsafeMutableRawBufferPointer(buffer))
            initialized = count
        }
    }

    /// Appends `value` big-endian (also used for checkpoints' signed bytes).
    static func appendUInt64(_ value: UInt64, _ buffer: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { buffer.append(contentsOf: $0) }
    }

    /// Writes encoding primitives at a cursor, never past `end`.
    private struct Writer {
        private(set) var cursor: UnsafeMutableRawPointer
        let end: UnsafeMutableRawPointer

        init(_ buffer: UnsafeMutableRawBufferPointer) {
            cursor = buffer.baseAddress!  // never empty: every encoding starts with 20 fixed bytes
            end = cursor + buffer.count
        }

        /// Stops the process rather than write past the buffer (only a bug could get here).
        @inline(__always)
        private func reserve(_ count: Int) {
            precondition(end - cursor >= count, "canonical encoding overruns its buffer")
        }

        @inline(__always)
        mutating func byte(_ value: UInt8) {
            reserve(1)
            cursor.storeBytes(of: value, as: UInt8.self)
            cursor += 1
        }

        @inline(__always)
        mutating func uint32(_ value: UInt32) {
            reserve(4)
            cursor.storeBytes(of: value.bigEndian, as: UInt32.self)
            cursor += 4
        }

        @inline(__always)
        mutating func uint64(_ value: UInt64) {
            reserve(8)
            cursor.storeBytes(of: value.bigEndian, as: UInt64.self)
            cursor += 8
        }

        @inline(__always)
        mutating func string(_ value: String) {
            let utf8 = value.utf8
            let count = utf8.count
            uint32(UInt32(truncatingIfNeeded: count))
            reserve(count)
            let target = cursor
            let copied: Void? = utf8.withContiguousStorageIfAvailable { bytes in
                if let base = bytes.baseAddress { target.copyMemory(from: base, byteCount: bytes.count) }
            }
            if copied == nil {
                for (offset, byte) in utf8.enumerated() {
                    target.storeBytes(of: byte, toByteOffset: offset, as: UInt8.self)
                }
            }
            cursor += count
        }

        @inline(__always)
        mutating func optional(_ value: String?) {
            if let value {
                byte(1)
                string(value)
            } else {
                byte(0)
            }
        }

        @inline(__always)
        mutating func list(_ values: [String]) {
            uint32(UInt32(truncatingIfNeeded: values.count))
            for value in values { string(value) }
        }
    }
}

extension AuditRecord {
    /// The sequence numbers a writer can give, 1 to `Int64.max` (the stores keep them in signed 64-bit
    /// columns): a stored record or `related` reference outside this range is read as
    /// ``AuditLogEntry/unreadable``, never as a number to compute with.
    package static let possibleSequences: ClosedRange<UInt64> = 1...UInt64(Int64.max)
}
