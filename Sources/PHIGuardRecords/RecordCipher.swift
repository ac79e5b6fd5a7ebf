package import PHIGuardFieldEncryption

/// The two calls ``GuardedRecords`` makes on field values. `FieldEncryptor` is the only public
/// implementation; the protocol is package-visible so tests can count calls through a wrapper.
package protocol RecordCipher: Sendable {
    /// Seals `plaintext` for `context`: the binary envelope.
    func seal(_ plaintext: String, context: FieldContext) throws(FieldEncryptionError) -> [UInt8]
    /// Opens a binary envelope for `context` as UTF-8 text.
    func open(_ envelope: [UInt8], context: FieldContext) throws(FieldEncryptionError) -> String
}

extension FieldEncryptor: RecordCipher {
    package func seal(_ plaintext: String, context: FieldContext) throws(FieldEncryptionError) -> [UInt8] {
        try encrypt(plaintext, context: context).bytes
    }

    package func open(_ envelope: [UInt8], context: FieldContext) throws(FieldEncryptionError) -> String {
        try decryptString(try FieldEnvelope(bytes: envelope), context: context)
    }
}
