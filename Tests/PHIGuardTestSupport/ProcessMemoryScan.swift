import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A secret the test never holds in the clear: its bytes are kept XOR-masked, so a scan of the
/// process memory finds the clear text only where the code under test left it.
public struct MaskedSecret: Sendable {
    /// The byte every secret byte is XOR-ed with while the test holds it.
    public static let mask: UInt8 = 0x5A
    /// The secret, XOR-masked.
    public let masked: [UInt8]

    /// A secret given by its masked bytes.
    public init(masked: [UInt8]) { self.masked = masked }

    /// `count` random characters of `alphabet`, then `suffix` (all masked as they are drawn).
    public init(randomFrom alphabet: String, count: Int, suffix: String = "") {
        let letters = Array(alphabet.utf8)
        var masked: [UInt8] = []
        for _ in 0..<count { masked.append((letters.randomElement() ?? 0x41) ^ Self.mask) }
        masked += suffix.utf8.map { $0 ^ Self.mask }
        self.masked = masked
    }

    /// Writes the clear text (then `trailer`) to a new 0600 file from a scratch buffer zeroed afterwards.
    public func write(to path: String, prefix: String = "", trailer: String = "\n") throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else { throw MemoryScanError.openFailed(path) }
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

    /// How many times the clear text occurs in the readable memory of this process
    /// (`/proc/self/maps`, regions with `r`, read through `/proc/self/mem`). Compares masked bytes,
    /// so the needle itself never appears in memory. It makes no small heap allocation before it
    /// has read everything it needs (large buffers are `mmap`ed), so freed heap chunks that still
    /// hold a leaked copy are not reused by the scan itself.
    public func occurrencesInProcessMemory() throws -> Int {
        let mapsFile = open("/proc/self/maps", O_RDONLY)
        guard mapsFile >= 0 else { throw MemoryScanError.openFailed("/proc/self/maps") }
        let maps = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 << 20, alignment: 16)
        defer { maps.deallocate() }
        var mapsLength = 0
        while mapsLength < maps.count {
            let got = read(mapsFile, maps.baseAddress! + mapsLength, maps.count - mapsLength)
            if got <= 0 { break }
            mapsLength += got
        }
        close(mapsFile)
        let memory = open("/proc/self/mem", O_RDONLY)
        guard memory >= 0 else { throw MemoryScanError.openFailed("/proc/self/mem") }
        defer { close(memory) }
        let chunkSize = 1 << 20
        let window = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize + masked.count, alignment: 16)
        defer { window.deallocate() }
        let needle = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
        defer { needle.deallocate() }
        for (index, byte) in masked.enumerated() { needle[index] = byte }
        let count = masked.count
        var found = 0
        var lineStart = 0
        while lineStart < mapsLength {
            var lineEnd = lineStart
            while lineEnd < mapsLength, maps[lineEnd] != 0x0A { lineEnd += 1 }
            defer { lineStart = lineEnd + 1 }
            // "start-end perms offset dev inode name"
            var position = lineStart
            func hex() -> UInt64 {
                var value: UInt64 = 0
                while position < lineEnd {
                    let c = maps[position]
                    let digit: UInt64
                    if c >= 0x30 && c <= 0x39 {
                        digit = UInt64(c - 0x30)
                    } else if c >= 0x61 && c <= 0x66 {
                        digit = UInt64(c - 0x61 + 10)
                    } else {
                        break
                    }
                    value = value << 4 | digit
                    position += 1
                }
                return value
            }
            let start = hex()
            position += 1  // "-"
            let end = hex()
            position += 1  // " "
            guard position < lineEnd, maps[position] == UInt8(ascii: "r") else { continue }
            // Skip the kernel's pseudo-mappings ("[vvar]", "[vsyscall]"): reading them fails or faults.
            var bracket = false
            for index in position..<lineEnd
            where maps[index] == UInt8(ascii: "[") && maps[index + 1] == UInt8(ascii: "v") {
                bracket = true
            }
            if bracket { continue }
            var offset = start
            var carried = 0
            while offset < end {
                let length = Int(min(end - offset, UInt64(chunkSize)))
                let got = pread(memory, window.baseAddress! + carried, length, off_t(Int64(bitPattern: offset)))
                if got <= 0 { break }
                let available = carried + got
                // glibc's memchr finds each candidate first byte (one byte of the secret, never the
                // whole of it, is held in the clear); the rest is compared through the mask. A byte
                // loop in a debug build took tens of seconds per scan of a 1 GB test process and held
                // a cooperative thread all that time, starving the other suites.
                let first = Int32(needle[0] ^ Self.mask)
                var index = 0
                while index + count <= available {
                    guard let hit = memchr(window.baseAddress! + index, first, available - count + 1 - index) else {
                        break
                    }
                    let at = window.baseAddress!.distance(to: hit)
                    var match = true
                    var k = 1
                    while k < count {
                        if window[at + k] ^ Self.mask != needle[k] {
                            match = false
                            break
                        }
                        k += 1
                    }
                    if match { found += 1 }
                    index = at + 1
                }
                carried = min(count - 1, available)
                memmove(window.baseAddress!, window.baseAddress! + available - carried, carried)
                offset += UInt64(got)
            }
        }
        memset(window.baseAddress!, 0, window.count)
        return found
    }
}

/// Why a memory scan could not run.
public enum MemoryScanError: Error {
    /// The file could not be opened.
    case openFailed(String)
}
