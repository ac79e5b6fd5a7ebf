import Foundation
import PHIGuardBackup
import PHIGuardKeys
import Testing

/// Every way of damaging a backup file is a typed refusal, and nothing is restored.
@Suite("Backup tampering")
struct BackupTamperTests {
    /// A backup of a database of 30 charts in 4 KiB messages (so it has many chunks), its bytes,
    /// and the offsets of its frames.
    struct Sample {
        let world: BackupWorld
        let key: BackupKey
        let path: String
        let bytes: [UInt8]
        let frames: [Range<Int>]

        static func make() async throws -> Sample {
            let world = try BackupWorld()
            let open = try await world.open()
            try await world.createCharts(0..<30, in: open)
            try await open.close()
            let key = try BackupKey.generate()
            let path = world.file("sample.phgbak")
            try await DatabaseBackup.createSQLite(database: world.path, key: key, to: path, chunkByteCount: 4096)
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            var frames: [Range<Int>] = []
            var offset = 48
            while offset < bytes.count {
                let length = bytes[offset..<(offset + 4)].reduce(0) { ($0 << 8) | Int($1) }
                frames.append(offset..<(offset + 4 + length))
                offset += 4 + length
            }
            return Sample(world: world, key: key, path: path, bytes: bytes, frames: frames)
        }

        /// Verifies `bytes` written as a backup; then tries to restore them over a fresh path and
        /// checks nothing was left behind.
        func refusal(_ bytes: [UInt8], key: BackupKey? = nil) async throws -> BackupError? {
            let path = world.file("tampered-\(UUID()).phgbak")
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            defer { try? FileManager.default.removeItem(atPath: path) }
            let before = try FileManager.default.contentsOfDirectory(atPath: world.directory.path).sorted()
            let verifyError = await #expect(throws: BackupError.self) {
                try await DatabaseBackup.verify(backup: path, key: key ?? self.key, options: world.options)
            }
            let restoreTarget = world.file("restored.sqlite")
            let restoreError = await #expect(throws: BackupError.self) {
                try await DatabaseBackup.restoreSQLite(
                    backup: path, key: key ?? self.key, to: restoreTarget, options: world.options)
            }
            #expect(verifyError == restoreError)
            #expect(try FileManager.default.contentsOfDirectory(atPath: world.directory.path).sorted() == before)
            return verifyError
        }
    }

    @Test("the untouched sample verifies (the baseline of every tamper test)")
    func baseline() async throws {
        let sample = try await Sample.make()
        defer { sample.world.remove() }
        #expect(sample.frames.count >= 5)
        let report = try await DatabaseBackup.verify(
            backup: sample.path, key: sample.key, options: sample.world.options)
        #expect(report.envelopes.decrypted == 90)
    }

    @Test("a flipped bit anywhere is refused: magic, key check, stream header, manifest, a chunk, the last byte")
    func flippedBits() async throws {
        let sample = try await Sample.make()
        defer { sample.world.remove() }
        let cases: [(offset: Int, expected: BackupError)] = [
            (0, .notABackup), (7, .unsupportedVersion(0x01 ^ 0x04)), (8, .wrongKey), (30, .tampered),
            (sample.frames[0].lowerBound + 10, .tampered), (sample.frames[2].lowerBound + 100, .tampered),
            (sample.bytes.count - 1, .tampered),
        ]
        for (offset, expected) in cases {
            var bytes = sample.bytes
            bytes[offset] ^= 0x04
            #expect(try await sample.refusal(bytes) == expected, "byte \(offset)")
        }
    }

    @Test("a truncated file is refused wherever it is cut, including exactly before the final message")
    func truncation() async throws {
        let sample = try await Sample.make()
        defer { sample.world.remove() }
        let last = try #require(sample.frames.last)
        for length in [0, 5, 40, sample.frames[0].upperBound, sample.frames[2].lowerBound + 7, last.lowerBound] {
            let error = try await sample.refusal(Array(sample.bytes.prefix(length)))
            #expect(error == .truncated || (length == 0 && error == .truncated), "cut at \(length)")
        }
    }

    @Test("two chunks swapped, a chunk repeated or dropped, bytes appended: refused")
    func reorderedChunks() async throws {
        let sample = try await Sample.make()
        defer { sample.world.remove() }
        let (a, b, c) = (sample.frames[1], sample.frames[2], sample.frames[3])
        #expect(a.count == b.count)
        let swapped =
            Array(sample.bytes[..<a.lowerBound]) + sample.bytes[b] + sample.bytes[a]
            + sample.bytes[b.upperBound...]
        #expect(try await sample.refusal(swapped) == .tampered)
        let repeated = Array(sample.bytes[..<b.upperBound]) + sample.bytes[b] + sample.bytes[b.upperBound...]
        #expect(try await sample.refusal(repeated) == .tampered)
        let dropped = Array(sample.bytes[..<b.lowerBound]) + sample.bytes[c.lowerBound...]
        #expect(try await sample.refusal(dropped) == .tampered)
        #expect(try await sample.refusal(sample.bytes + [0]) == .trailingData)
        // A frame length beyond the manifest's chunk size is refused before allocating it.
        var huge = sample.bytes
        huge[b.lowerBound] = 0x7F
        #expect(try await sample.refusal(huge) == .tampered)
    }

    @Test("another backup key is refused as a wrong key")
    func wrongKey() async throws {
        let sample = try await Sample.make()
        defer { sample.world.remove() }
        #expect(try await sample.refusal(sample.bytes, key: try BackupKey.generate()) == .wrongKey)
    }
}
