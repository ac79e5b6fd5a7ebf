import Foundation
import PHIGuardAudit
import PHIGuardFieldEncryption
import PHIGuardKeys
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A secret the test never holds in the clear: its bytes are kept XOR-masked, so a scan of the
/// process memory finds the clear text only where the code under test left it.
struct MaskedSecret {
    static let mask: UInt8 = 0x5A
    let masked: [UInt8]

    /// `count` random characters of `alphabet`, then `suffix` (all masked as they are drawn).
    init(randomFrom alphabet: String, count: Int, suffix: String = "") {
        let letters = Array(alphabet.utf8)
        var masked: [UInt8] = []
        for _ in 0..<count { masked.append((letters.randomElement() ?? 0x41) ^ Self.mask) }
        masked += suffix.utf8.map { $0 ^ Self.mask }
        self.masked = masked
    }

    /// Writes the clear text (then `trailer`) to a new 0600 file from a scratch buffer zeroed afterwards.
    func write(to path: String, prefix: String = "", trailer: String = "\n") throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        var clear = [UInt8](repeating: 0, count: masked.count)
        clear.withUnsafeMutableBufferPointer { buffer in
            for index in masked.indices { buffer[index] = masked[index] ^ Self.mask }
            let all = Array(prefix.utf8)
            _ = all.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            _ = Glibc.write(descriptor, buffer.baseAddress, buffer.count)
            _ = Array(trailer.utf8).withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if let base = buffer.baseAddress { memset(base, 0, buffer.count) }
        }
    }

    /// Where the clear text occurs in the readable memory of this process (`/proc/self/maps`,
    /// regions with `r`, read through `/proc/self/mem`). Compares masked bytes, so the needle itself
    /// never appears in memory.
    func occurrencesInProcessMemory() throws -> [String] {
        let maps = try String(contentsOfFile: "/proc/self/maps", encoding: .utf8)
        let memory = open("/proc/self/mem", O_RDONLY)
        try #require(memory >= 0)
        defer { close(memory) }
        var found: [String] = []
        let first = masked[0] ^ Self.mask
        for line in maps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, fields[1].hasPrefix("r") else { continue }
            let name = fields.count >= 6 ? String(fields[5]) : ""
            if name == "[vvar]" || name == "[vsyscall]" || name == "[vvar_vclock]" { continue }
            let range = fields[0].split(separator: "-")
            guard range.count == 2, let start = UInt64(range[0], radix: 16), let end = UInt64(range[1], radix: 16)
            else { continue }
            var offset = start
            var carry: [UInt8] = []
            while offset < end {
                let length = Int(min(end - offset, 1 << 20))
                var chunk = [UInt8](repeating: 0, count: length)
                let got = chunk.withUnsafeMutableBytes { pread(memory, $0.baseAddress, length, off_t(Int64(bitPattern: offset))) }
                if got <= 0 { break }
                let window = carry + chunk[0..<got]
                var index = 0
                while index + masked.count <= window.count {
                    if window[index] == first {
                        var match = true
                        for k in 1..<masked.count where window[index + k] ^ Self.mask != masked[k] {
                            match = false
                            break
                        }
                        if match { found.append("\(name.isEmpty ? "anonymous" : name) at 0x\(String(offset, radix: 16))") }
                    }
                    index += 1
                }
                carry = Array(window.suffix(masked.count - 1))
                memset(&chunk, 0, chunk.count)
                offset += UInt64(got)
            }
        }
        return found
    }
}

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
            #expect(try !chainText.occurrencesInProcessMemory().isEmpty)
            memset(&planted, 0, planted.count)

            let chain = try keys.auditChainKey()
            let keyring = try keys.fieldKeyring()
            #expect(keyring.activeKeyID == "planted")
            let chainHits = try chainText.occurrencesInProcessMemory()
            let fieldHits = try fieldText.occurrencesInProcessMemory()
            #expect(chainHits.isEmpty, "chain key text found: \(chainHits)")
            #expect(fieldHits.isEmpty, "field key text found: \(fieldHits)")
            withExtendedLifetime((chain, keyring)) {}
        }
    }
}

extension MaskedSecret {
    init(masked: [UInt8]) { self.masked = masked }
}
