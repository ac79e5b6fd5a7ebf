import Synchronization
import Testing

@testable import PHIGuardCrypto

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite("SecretBytes", .serialized)
struct SecretBytesTests {
    @Test("released secrets are zeroed before the memory is returned")
    func zeroedOnRelease() throws {
        let observed = Mutex<[[UInt8]]>([])
        // The observer is process-wide and other suites run in parallel: record only the releases made
        // on this (synchronous) test's thread, so another test's secret cannot join the list.
        let testThread = pthread_self()
        SecretBytes.releaseObserver.withLock { observer in
            observer = { bytes in
                guard pthread_equal(pthread_self(), testThread) != 0 else { return }
                observed.withLock { $0.append(Array(bytes)) }
            }
        }
        defer { SecretBytes.releaseObserver.withLock { $0 = nil } }

        do {
            let secret = try SecretBytes(copying: [UInt8](repeating: 0xA5, count: 48))
            #expect(secret.withUnsafeBytes { Array($0) } == [UInt8](repeating: 0xA5, count: 48))
        }
        do {
            _ = try SecretBytes(randomCount: 32, idleProtection: .readOnly)
        }
        let released = observed.withLock { $0 }
        #expect(released.map(\.count) == [48, 32])
        for bytes in released {
            #expect(bytes.allSatisfy { $0 == 0 })
        }
    }

    @Test("description, debugDescription, string interpolation and dump never show the bytes")
    func redacted() throws {
        let marker: [UInt8] = Array("TOPSECRET-MARKER".utf8)
        let secret = try SecretBytes(copying: marker)
        var dumped = ""
        dump(secret, to: &dumped)
        let renderings = [secret.description, secret.debugDescription, "\(secret)", String(reflecting: secret), dumped]
        for text in renderings {
            #expect(!text.contains("TOPSECRET"))
            #expect(!text.contains("84"))  // 'T' as a decimal byte, as an array would print it
            #expect(text.contains("<redacted>"))
        }
    }

    @Test("equality is by content and length, through constant-time comparison")
    func equality() throws {
        let a = try SecretBytes(copying: [1, 2, 3, 4])
        let b = try SecretBytes(copying: [1, 2, 3, 4])
        let c = try SecretBytes(copying: [1, 2, 3, 5])
        let d = try SecretBytes(copying: [1, 2, 3])
        #expect(a.constantTimeEquals(b))
        #expect(!a.constantTimeEquals(c))
        #expect(!a.constantTimeEquals(d))
        #expect(Sodium.constantTimeEqual([9, 9], [9, 9]))
        #expect(!Sodium.constantTimeEqual([9, 9], [9, 8]))
    }

    @Test("invalid lengths are typed errors, not crashes", arguments: [0, -1, SecretBytes.maximumCount + 1])
    func invalidLength(count: Int) {
        #expect(throws: SecureMemoryError.invalidLength(count)) {
            try SecretBytes(randomCount: count)
        }
    }

    @Test("an initializer that throws frees the memory and reports its own error")
    func initializerFailure() {
        struct Boom: Error {}
        #expect(throws: SecretBytesInitError<Boom>.self) {
            try SecretBytes(count: 16) { (_: UnsafeMutableRawBufferPointer) throws(Boom) in throw Boom() }
        }
    }

    @Test("concurrent readers of a no-access secret never fault and always see the bytes")
    func concurrentReaders() async throws {
        let secret = try SecretBytes(copying: [UInt8](1...64), idleProtection: .noAccess)
        let sums = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<64 {
                group.addTask {
                    var total = 0
                    for _ in 0..<200 { total += secret.withUnsafeBytes { $0.reduce(0) { $0 + Int($1) } } }
                    return total
                }
            }
            return await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(sums.count == 64)
        #expect(sums.allSatisfy { $0 == 200 * (64 * 65 / 2) })
    }

    @Test("random secrets differ")
    func randomness() throws {
        let first = try SecretBytes(randomCount: 32)
        let second = try SecretBytes(randomCount: 32)
        #expect(!first.constantTimeEquals(second))
    }
}

@Suite("Base64")
struct Base64Tests {
    @Test("round-trips every length and rejects non-canonical input")
    func roundTrip() {
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            for variant in [Base64.Variant.standard, .standardUnpadded, .urlSafeUnpadded] {
                let text = Base64.encode(bytes, variant: variant)
                #expect(Base64.decode(text, variant: variant) == bytes)
            }
        }
        #expect(Base64.encode(Array("somesalt".utf8), variant: .standardUnpadded) == "c29tZXNhbHQ")
        #expect(Base64.decode("c29tZXNhbHQ", variant: .standardUnpadded) == Array("somesalt".utf8))
        #expect(Base64.decode("c29tZXNhbHQ=", variant: .standardUnpadded) == nil)  // padding
        #expect(Base64.decode("c29tZXNhbHR", variant: .standardUnpadded) == nil)  // non-zero trailing bits
        #expect(Base64.decode("c29t ZXNh", variant: .standardUnpadded) == nil)  // whitespace
        #expect(Base64.decode("c29t-ZXNh", variant: .standardUnpadded) == nil)  // wrong alphabet
        #expect(Base64.decode("A", variant: .standardUnpadded) == nil)  // impossible length
    }
}
