package import PHIGuardCrypto

/// The HMAC-SHA256 key that chains audit records. Keep it away from the database.
///
/// Whoever holds this key can write records that verify, so it must not live where the database
/// writer (a DBA, a compromised SQL account) can read it: load it from a key file or a secrets
/// manager into the audit-writing process only. Verifiers (an auditor, the `phiguard audit verify`
/// CLI) need it too. The bytes live in guarded memory; `description` never shows them.
public struct AuditChainKey: Sendable, CustomStringConvertible {
    /// The key length in bytes.
    public static let length = 32

    /// HMAC-SHA256 with the key absorbed (the keyed state is key-equivalent; it lives in guarded memory).
    let hmac: HMACSHA256

    /// Takes `bytes` (exactly 32) as the key and zeroes the caller's array.
    public init(bytes: inout [UInt8]) throws(AuditError) {
        defer { Sodium.zero(&bytes) }
        guard bytes.count == Self.length else { throw .invalidKey("a chain key is \(Self.length) bytes") }
        guard Sodium.isReady else { throw .secureMemoryFailure("libsodium unavailable") }
        do {
            hmac = try HMACSHA256(key: bytes)
        } catch {
            switch error {
            case .memory: throw .secureMemoryFailure("guarded allocation failed")
            default: throw .secureMemoryFailure(error.description)
            }
        }
    }

    /// Takes `secret` (exactly 32 guarded bytes, e.g. decoded straight from a key file) as the key.
    package init(secret: SecretBytes) throws(AuditError) {
        guard secret.count == Self.length else { throw .invalidKey("a chain key is \(Self.length) bytes") }
        do {
            hmac = try secret.withUnsafeBytes { (bytes) throws(CryptoError) in try HMACSHA256(key: bytes) }
        } catch {
            switch error {
            case .memory: throw .secureMemoryFailure("guarded allocation failed")
            default: throw .secureMemoryFailure(error.description)
            }
        }
    }

    /// A new random key.
    public static func generate() throws(AuditError) -> AuditChainKey {
        var bytes: [UInt8]
        do { bytes = try Sodium.randomBytes(count: length) } catch { throw .secureMemoryFailure(error.description) }
        return try AuditChainKey(bytes: &bytes)
    }

    /// Reads a key from its base64 text (a key file's contents; surrounding whitespace is ignored).
    public init(base64 text: String) throws(AuditError) {
        let trimmed = text.trimmingASCIIWhitespace()
        guard var bytes = Base64.decode(trimmed, variant: .standard) else { throw .invalidKey("not base64") }
        try self.init(bytes: &bytes)
    }

    /// Always `AuditChainKey(<redacted>)`.
    public var description: String { "AuditChainKey(<redacted>)" }

    /// `HMAC-SHA256(key, message)`, written to `output` (32 bytes).
    ///
    /// The key was absorbed once at initialisation; libsodium's update and final steps have no
    /// failure mode for a valid state, so a failure stops the process rather than chaining a wrong value.
    @inline(__always)
    func mac(_ message: UnsafeRawBufferPointer, into output: UnsafeMutableRawPointer) {
        Sodium.requireSuccess { () throws(CryptoError) in try hmac.authenticate(message, into: output) }
    }
}

/// Computes chain values with a reusable message buffer (one per writer or verifier; not shared).
///
/// A chain value is `HMAC-SHA256(key, previous ‖ canonical(sequence, event))`; the chainer writes
/// `previous ‖ canonical` into one buffer it keeps between records, so chaining or verifying a
/// record allocates nothing once the buffer is large enough.
struct AuditChainer {
    let key: AuditChainKey
    /// `previous ‖ canonical` of the record being chained; only the first bytes of it are in use.
    private var message = [UInt8](repeating: 0, count: 1024)

    init(key: AuditChainKey) {
        self.key = key
    }

    /// The chain value of (`sequence`, `event`) following `previous`.
    mutating func chainValue(previous: [UInt8], sequence: UInt64, event: AuditEvent) -> [UInt8] {
        let key = key
        return withMessage(previous: previous, sequence: sequence, event: event) { message in
            [UInt8](unsafeUninitializedCapacity: 32) { output, initialized in
                key.mac(message, into: UnsafeMutableRawPointer(output.baseAddress!))
                initialized = 32
            }
        }
    }

    /// Whether `record.chain` is the chain value of `record` following `previous` (computed on the
    /// stack and compared in constant time).
    mutating func verifies(_ record: AuditRecord, previous: [UInt8]) -> Bool {
        guard record.chain.count == 32 else { return false }
        let key = key
        return withMessage(previous: previous, sequence: record.sequence, event: record.event) { message in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { output in
                key.mac(message, into: UnsafeMutableRawPointer(output.baseAddress!))
                return record.chain.withUnsafeBytes {
                    Sodium.constantTimeEqual(UnsafeRawBufferPointer(output), $0)
                }
            }
        }
    }

    /// Calls `body` with `previous ‖ canonical(sequence, event)`, written into the reused buffer.
    private mutating func withMessage<R>(
        previous: [UInt8], sequence: UInt64, event: AuditEvent, _ body: (UnsafeRawBufferPointer) -> R
    ) -> R {
        let count = previous.count + AuditCanonicalEncoding.encodedCount(of: event)
        if message.count < count { message = [UInt8](repeating: 0, count: max(count, 2 * message.count)) }
        return message.withUnsafeMutableBytes { buffer in
            let base = buffer.baseAddress!
            previous.withUnsafeBytes {
                if let start = $0.baseAddress { base.copyMemory(from: start, byteCount: $0.count) }
            }
            AuditCanonicalEncoding.write(
                sequence: sequence, event: event,
                to: UnsafeMutableRawBufferPointer(start: base + previous.count, count: count - previous.count))
            return body(UnsafeRawBufferPointer(start: base, count: count))
        }
    }

    /// The chain value before the first record: 32 zero bytes.
    static let genesis = [UInt8](repeating: 0, count: 32)
}

extension String {
    func trimmingASCIIWhitespace() -> Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return self[first...last]
    }
}
