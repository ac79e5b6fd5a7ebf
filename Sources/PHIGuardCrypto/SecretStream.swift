internal import CSodium

/// libsodium's `crypto_secretstream_xchacha20poly1305`: a sequence of messages encrypted under one
/// key, each authenticated together with its position in the stream, so a message that is changed,
/// dropped, repeated or moved fails to open, and a stream cut before its ``Tag/final`` message is
/// detectable by the reader.
///
/// ```swift
/// let sealer = try SecretStream.Sealer(key: key)            // write sealer.header first
/// let first = try sealer.seal(manifest, associatedData: fileHeader, tag: .message)
/// let last = try sealer.seal(chunk, tag: .final)
/// let opener = try SecretStream.Opener(key: key, header: header)
/// let (plaintext, tag) = try opener.open(first, associatedData: fileHeader)
/// ```
///
/// The state (a derived key and a counter) lives in memory of its own, zeroed when the sealer or
/// opener is released. Neither type is shared between tasks.
package enum SecretStream {
    /// Key length in bytes (32).
    package static var keyByteCount: Int { Int(crypto_secretstream_xchacha20poly1305_keybytes()) }
    /// Stream header length in bytes (24): written once, before the first message.
    package static var headerByteCount: Int { Int(crypto_secretstream_xchacha20poly1305_headerbytes()) }
    /// Bytes a sealed message is longer than its plaintext (17: a tag byte and a 16-byte MAC).
    package static var overheadByteCount: Int { Int(crypto_secretstream_xchacha20poly1305_abytes()) }

    /// The tag sealed with each message.
    package enum Tag: Sendable, Hashable {
        /// A message with more to come.
        case message
        /// The last message of the stream.
        case final

        var value: UInt8 {
            switch self {
            case .message: crypto_secretstream_xchacha20poly1305_tag_message()
            case .final: crypto_secretstream_xchacha20poly1305_tag_final()
            }
        }
    }

    /// Why a stream could not be started, sealed or opened. Carries lengths only, never bytes.
    package enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        /// The key is not ``SecretStream/keyByteCount`` bytes.
        case invalidKeyLength(Int)
        /// The header is not ``SecretStream/headerByteCount`` bytes.
        case invalidHeaderLength(Int)
        /// The sealed message is shorter than ``SecretStream/overheadByteCount``.
        case ciphertextTooShort
        /// The message did not authenticate: wrong key or header, a changed, moved or dropped message.
        case authenticationFailed
        /// A message authenticated but carries a tag PHIGuard never writes (`push` or `rekey`).
        case unexpectedTag
        /// A libsodium function returned a failure code.
        case failed(function: String)
        /// libsodium could not be initialised.
        case libsodiumUnavailable

        /// A description without any byte of key, header or message.
        package var description: String {
            switch self {
            case .invalidKeyLength(let count): "invalid secretstream key length \(count)"
            case .invalidHeaderLength(let count): "invalid secretstream header length \(count)"
            case .ciphertextTooShort: "secretstream message shorter than its overhead"
            case .authenticationFailed: "secretstream message did not authenticate"
            case .unexpectedTag: "secretstream message has an unexpected tag"
            case .failed(let function): "\(function) failed"
            case .libsodiumUnavailable: "libsodium could not be initialised"
            }
        }
    }

    /// The state both directions keep, in memory zeroed on release.
    private final class State {
        let pointer: UnsafeMutablePointer<crypto_secretstream_xchacha20poly1305_state>

        init() {
            pointer = .allocate(capacity: 1)
            sodium_memzero(pointer, MemoryLayout<crypto_secretstream_xchacha20poly1305_state>.size)
        }

        deinit {
            sodium_memzero(pointer, MemoryLayout<crypto_secretstream_xchacha20poly1305_state>.size)
            pointer.deallocate()
        }
    }

    /// Seals messages into a new stream whose ``header`` the reader needs first.
    package final class Sealer {
        /// The stream header (public; written before the first message).
        package let header: [UInt8]
        private let state = State()

        /// Starts a stream under `key` (32 bytes in guarded memory) with a random header.
        package init(key: SecretBytes) throws(Failure) {
            guard Sodium.isReady else { throw .libsodiumUnavailable }
            guard key.count == SecretStream.keyByteCount else { throw .invalidKeyLength(key.count) }
            var header = [UInt8](repeating: 0, count: SecretStream.headerByteCount)
            let state = state
            let status = key.withUnsafeBytes { keyBytes in
                header.withUnsafeMutableBufferPointer { out in
                    crypto_secretstream_xchacha20poly1305_init_push(
                        state.pointer, out.baseAddress!, keyBytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
            guard status == 0 else { throw .failed(function: "crypto_secretstream_xchacha20poly1305_init_push") }
            self.header = header
        }

        /// The sealed form of `message` (`message.count + overheadByteCount` bytes), authenticated
        /// together with `associatedData` and the message's position in the stream.
        package func seal(_ message: [UInt8], associatedData: [UInt8] = [], tag: Tag) throws(Failure) -> [UInt8] {
            var output = [UInt8](repeating: 0, count: message.count + SecretStream.overheadByteCount)
            var written: UInt64 = 0
            let state = state
            let status = message.withUnsafeBufferPointer { m in
                associatedData.withUnsafeBufferPointer { ad in
                    output.withUnsafeMutableBufferPointer { out in
                        crypto_secretstream_xchacha20poly1305_push(
                            state.pointer, out.baseAddress!, &written, m.baseAddress, UInt64(m.count),
                            ad.baseAddress, UInt64(ad.count), tag.value)
                    }
                }
            }
            guard status == 0, written == UInt64(output.count) else {
                throw .failed(function: "crypto_secretstream_xchacha20poly1305_push")
            }
            return output
        }
    }

    /// Opens the messages of a stream, in order.
    package final class Opener {
        private let state = State()

        /// Starts reading the stream whose header is `header`, under `key`.
        package init(key: SecretBytes, header: [UInt8]) throws(Failure) {
            guard Sodium.isReady else { throw .libsodiumUnavailable }
            guard key.count == SecretStream.keyByteCount else { throw .invalidKeyLength(key.count) }
            guard header.count == SecretStream.headerByteCount else { throw .invalidHeaderLength(header.count) }
            let state = state
            let status = key.withUnsafeBytes { keyBytes in
                header.withUnsafeBufferPointer { h in
                    crypto_secretstream_xchacha20poly1305_init_pull(
                        state.pointer, h.baseAddress!, keyBytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
            guard status == 0 else { throw .authenticationFailed }
        }

        /// The plaintext and tag of the next sealed message. Any failure leaves the stream unusable
        /// (the caller stops reading).
        package func open(_ sealed: [UInt8], associatedData: [UInt8] = []) throws(Failure) -> (
            message: [UInt8], tag: Tag
        ) {
            guard sealed.count >= SecretStream.overheadByteCount else { throw .ciphertextTooShort }
            var output = [UInt8](repeating: 0, count: sealed.count - SecretStream.overheadByteCount)
            var written: UInt64 = 0
            var tag: UInt8 = 0
            // libsodium accepts a NULL output only for an empty message; give it a valid byte otherwise.
            var scratch: UInt8 = 0
            let state = state
            let status = withUnsafeMutablePointer(to: &scratch) { scratchPointer in
                sealed.withUnsafeBufferPointer { c in
                    associatedData.withUnsafeBufferPointer { ad in
                        output.withUnsafeMutableBufferPointer { out in
                            crypto_secretstream_xchacha20poly1305_pull(
                                state.pointer, out.baseAddress ?? scratchPointer, &written, &tag, c.baseAddress!,
                                UInt64(c.count), ad.baseAddress, UInt64(ad.count))
                        }
                    }
                }
            }
            guard status == 0, written == UInt64(output.count) else {
                Sodium.zero(&output)
                throw .authenticationFailed
            }
            switch tag {
            case Tag.message.value: return (output, .message)
            case Tag.final.value: return (output, .final)
            default: throw .unexpectedTag
            }
        }
    }
}
