import PHIGuardAudit
import PHIGuardFieldEncryption
import PHIGuardKeys
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// The sample of the DocC article "Keys", verbatim.
func openServices(keyDirectory: String) throws -> (FieldEncryptor, BlindIndex, AuditChainKey) {
    let keys: any KeySource = KeyDirectory(path: keyDirectory)
    do {
        let encryptor = FieldEncryptor(keyring: try keys.fieldKeyring())
        let index = try BlindIndex(
            name: "mrn", table: "patients", field: "mrn", bits: 16, normalization: .exact,
            rootKey: try keys.blindIndexKeyring().active)
        return (encryptor, index, try keys.auditChainKey())
    } catch let error as KeyError {
        // e.g. "/etc/portal/keys/field.keys: key file has mode 0644; group or others may access it"
        print("\(error); fix: \(error.fix)")
        throw error
    }
}

@Suite("KeysArticleSample")
struct KeysArticleSampleTests {
    @Test("the article's sample opens a created key directory and refuses a 0644 keyring")
    func sample() throws {
        try withTemporaryDirectory { parent in
            let keys = try KeyDirectory.create(at: parent + "/keys")
            let (encryptor, _, _) = try openServices(keyDirectory: keys.path)
            let context = FieldContext(table: "patients", recordID: "p-1", field: "name")
            let envelope = try encryptor.encrypt(Array("Alice".utf8), context: context)
            #expect(try encryptor.decrypt(envelope, context: context) == Array("Alice".utf8))
            chmod(keys.filePath(.fieldKeyring), 0o644)
            #expect(throws: KeyError.fileAccessibleByOthers(path: keys.filePath(.fieldKeyring), mode: "0644")) {
                try openServices(keyDirectory: keys.path)
            }
        }
    }
}
