internal import CSodium

extension BLAKE2b {
    /// Incremental (unkeyed) BLAKE2b for inputs read in chunks, such as a database snapshot:
    /// `crypto_generichash_init` / `_update` / `_final`. Gives the same digest as
    /// ``BLAKE2b/hash(_:key:outputCount:)-(UnsafeRawBufferPointer,_,_)`` over the concatenated chunks.
    ///
    /// ```swift
    /// let hasher = try BLAKE2b.Hasher(outputCount: 32)
    /// try hasher.update(chunk)
    /// let digest = try hasher.finalize()
    /// ```
    package final class Hasher {
        /// The digest length in bytes.
        package let outputCount: Int
        private let state: UnsafeMutableRawPointer
        private let stateByteCount: Int
        private var finished = false

        /// A hasher producing an `outputCount`-byte digest (16…64).
        package init(outputCount: Int) throws(CryptoError) {
            try Sodium.requireReady()
            guard BLAKE2b.outputCounts.contains(outputCount) else {
                throw .invalidLength(what: "BLAKE2b output", count: outputCount)
            }
            self.outputCount = outputCount
            stateByteCount = crypto_generichash_statebytes()
            // The C type is declared 64-byte aligned; Swift does not carry that attribute over.
            state = .allocate(byteCount: stateByteCount, alignment: 64)
            let status = crypto_generichash_init(
                OpaquePointer(state), nil, 0, outputCount)
            if status != 0 {
                state.deallocate()
                throw .failed(function: "crypto_generichash_init", code: status)
            }
        }

        deinit {
            sodium_memzero(state, stateByteCount)
            state.deallocate()
        }

        /// Adds `bytes` to the input.
        package func update(_ bytes: [UInt8]) throws(CryptoError) {
            guard !finished else { throw .invalidLength(what: "BLAKE2b input after finalize", count: bytes.count) }
            let state = state
            let status = bytes.withUnsafeBufferPointer { buffer in
                crypto_generichash_update(
                    OpaquePointer(state), buffer.baseAddress,
                    UInt64(buffer.count))
            }
            try Sodium.check(status, "crypto_generichash_update")
        }

        /// The digest of everything added. The hasher cannot be used afterwards.
        package func finalize() throws(CryptoError) -> [UInt8] {
            guard !finished else { throw .invalidLength(what: "BLAKE2b finalize twice", count: 0) }
            finished = true
            var output = [UInt8](repeating: 0, count: outputCount)
            let state = state
            let count = outputCount
            let status = output.withUnsafeMutableBufferPointer { out in
                crypto_generichash_final(
                    OpaquePointer(state), out.baseAddress!, count)
            }
            try Sodium.check(status, "crypto_generichash_final")
            return output
        }
    }
}
