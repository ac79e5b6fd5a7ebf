import Foundation
import PHIGuardAudit
import PHIGuardFieldEncryption
import PHIGuardKeys
import PHIGuardPasswords
import PHIGuardTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Key text in process memory", .serialized)
struct MemoryScanTests {
    static let base64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

    /// 32-byte key text: 42 free characters, one whose low two bits are zero (canonical), then `=`.
    static func keyText() -> MaskedSecret {
        var text = MaskedSecret(randomFrom: base64Alphabet, count: 42)
        let last = MaskedSecret(randomFrom: "AEIMQUYcgkosw048", count: 1, suffix: "=")
        text = MaskedSecret(masked: text.masked + last.masked)
        return text
    }

    @Test("after loading, no readable memory holds a key file's text (base64 and keyring files)")
    func keyTextIsNotLeft() throws {
        try withTemporaryDirectory { parent in
            let keys = try KeyDirectory.create(at: parent + "/keys")
            let chainText = Self.keyText()
            let fieldText = Self.keyText()
            unlink(keys.filePath(.auditChain))
            try chainText.write(to: keys.filePath(.auditChain))
            unlink(keys.filePath(.fieldKeyring))
            try fieldText.write(to: keys.filePath(.fieldKeyring), prefix: "phiguard-field-keyring v1\nactive planted ")
            // The scanner works: a planted copy in an ordinary array is found.
            var planted = chainText.masked.map { $0 ^ MaskedSecret.mask }
            #expect(try chainText.occurrencesInProcessMemory() > 0)
            memset(&planted, 0, planted.count)

            let chain = try keys.auditChainKey()
            let keyring = try keys.fieldKeyring()
            #expect(keyring.activeKeyID == "planted")
            let chainHits = try chainText.occurrencesInProcessMemory()
            let fieldHits = try fieldText.occurrencesInProcessMemory()
            #expect(chainHits == 0, "chain key text found \(chainHits) times")
            #expect(fieldHits == 0, "field key text found \(fieldHits) times")
            withExtendedLifetime((chain, keyring)) {}
        }
    }
}

@Suite("Typed password in process memory", .serialized)
struct PasswordMemoryScanTests {
    @Test("a password read with PasswordSecret.readLine, hashed and verified, is nowhere in readable memory afterwards")
    func passwordIsNotLeft() async throws {
        // 24 random ASCII letters and digits: the ASCII path (no NFKC string).
        let password = MaskedSecret(
            randomFrom: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", count: 24)
        var pipeEnds: [Int32] = [0, 0]
        try #require(pipe(&pipeEnds) == 0)
        defer { close(pipeEnds[0]) }
        var clear = password.masked.map { $0 ^ MaskedSecret.mask } + [0x0A]
        #expect(clear.withUnsafeBytes { write(pipeEnds[1], $0.baseAddress, $0.count) } == clear.count)
        memset(&clear, 0, clear.count)
        close(pipeEnds[1])

        let hasher = try PasswordHasher(configuration: .init(parameters: .owaspMinimum))
        let stored: String
        do {
            let typed = try #require(try PasswordSecret.readLine(from: pipeEnds[0]))
            #expect(typed.byteCount == 24)
            stored = try await hasher.hash(secret: typed)
            #expect(try await hasher.verify(secret: typed, against: stored) == .valid)
        }
        // A different password does not verify (the secret really was the typed bytes).
        #expect(try await hasher.verify("not-the-password", against: stored) == .invalid)
        let hits = try password.occurrencesInProcessMemory()
        #expect(hits == 0, "typed password found \(hits) times")
    }
}
