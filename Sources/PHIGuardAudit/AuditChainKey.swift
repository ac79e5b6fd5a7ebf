internal import CSodium
internal import PHIGuardSecureMemory

/// The HMAC-SHA256 key that chains audit records. Keep it away from the database.
///
/// Whoever holds this key can write records that verify, so it must not live where the database
/// writer (a DBA, a compromised SQL account) can read it: load it from a key file or a secrets
/// manager into the audit-writing process only. Verifiers (an auditor, the `phiguard audit verify`
/// CLI) need it too. The bytes live in guarded memory; `description` never shows them.
public struct AuditChainKey: Sendable, CustomStringConvertible {
    /// The key length in bytes.
    public static let length = 32

    /// The HMAC state after absorbing the key (itself key-equivalent, so it lives in guarded memory).
    let keyedState: SecretBytes

    /// Takes `bytes` (exactly 32) as the key and zeroes the caller's array.
    public init(bytes: inout [UInt8]) throws(AuditError) {
        defer { Sodium.zero(&bytes) }
        guard bytes.count == Self.length else { throw .invalidKey("a chain key is \(Self.length) bytes") }
        guard Sodium.isReady else { throw .secureMemoryFailure("libsodium unavailable") }
        let size = MemoryLayout<crypto_auth_hmacsha256_state>.size
        do {
            keyedState = try bytes.withUnsafeBufferPointer { key throws(SecretBytesInitError<Never>) in
                try SecretBytes(count: size, idleProtection: .readOnly) { buffer in
                    var state = crypto_auth_hmacsha256_state()
                    _ = crypto_auth_hmacsha256_init(&state, key.baseAddress!, key.count)
                    withUnsafeBytes(of: &state) { buffer.copyMemory(from: $0) }
                    withUnsafeMutableBytes(of: &state) { Sodium.zero($0) }
                }
            }
        } catch {
            throw .secureMemoryFailure("guarded allocation failed")
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

    /// `HMAC-SHA256(key, previous ‖ canonical)`, written to `output` (32 bytes).
    @inline(__always)
    func chainValue(
        previous: UnsafeRawBufferPointer, canonical: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
    ) {
        keyedState.withUnsafeBytes { stored in
            var state = stored.loadUnaligned(as: crypto_auth_hmacsha256_state.self)
            _ = crypto_auth_hmacsha256_update(
                &state, previous.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(previous.count))
            _ = crypto_auth_hmacsha256_update(
                &state, canonical.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(canonical.count))
            _ = crypto_auth_hmacsha256_final(&state, output.baseAddress!.assumingMemoryBound(to: UInt8.self))
            withUnsafeMutableBytes(of: &state) { Sodium.zero($0) }
        }
    }
}

/// Computes chain values with a reusable encoding buffer (one per writer or verifier; not shared).
struct AuditChainer {
    let key: AuditChainKey
    private var buffer: [UInt8] = []

    init(key: AuditChainKey) {
        self.key = key
        buffer.reserveCapacity(1024)
    }

    /// The chain value of (`sequence`, `event`) following `previous`.
    mutating func chainValue(previous: [UInt8], sequence: UInt64, event: AuditEvent) -> [UInt8] {
        buffer.removeAll(keepingCapacity: true)
        AuditCanonicalEncoding.encode(sequence: sequence, event: event, into: &buffer)
        var output = [UInt8](repeating: 0, count: 32)
        let key = key
        buffer.withUnsafeBytes { canonical in
            previous.withUnsafeBytes { previousBytes in
                output.withUnsafeMutableBytes { out in
                    key.chainValue(previous: previousBytes, canonical: canonical, into: out)
                }
            }
        }
        return output
    }

    /// Whether `record.chain` is the chain value of `record` following `previous` (computed on the
    /// stack: verification allocates nothing per record but the encoding buffer it reuses).
    mutating func verifies(_ record: AuditRecord, previous: [UInt8]) -> Bool {
        guard record.chain.count == 32 else { return false }
        buffer.removeAll(keepingCapacity: true)
        AuditCanonicalEncoding.encode(sequence: record.sequence, event: record.event, into: &buffer)
        let key = key
        return withUnsafeTemporaryAllocation(byteCount: 32, alignment: 8) { output in
            buffer.withUnsafeBytes { canonical in
                previous.withUnsafeBytes { previousBytes in
                    key.chainValue(previous: previousBytes, canonical: canonical, into: output)
                }
            }
            return record.chain.withUnsafeBytes { Sodium.constantTimeEqual(UnsafeRawBufferPointer(output), $0) }
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
