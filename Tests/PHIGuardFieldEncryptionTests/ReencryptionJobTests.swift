import Foundation
import Synchronization
import Testing

@testable import PHIGuardFieldEncryption

/// A source that "crashes" (throws) after a number of successful writes, possibly mid-batch,
/// like a process killed while the job runs.
final class CrashingSource: ReencryptionSource {
    struct Crash: Error {}
    let store: InMemoryFieldStore
    let writesBeforeCrash: Mutex<Int?>

    init(store: InMemoryFieldStore, writesBeforeCrash: Int?) {
        self.store = store
        self.writesBeforeCrash = Mutex(writesBeforeCrash)
    }

    func fields(after position: FieldContext?, limit: Int) async throws -> [StoredField] {
        await store.fields(after: position, limit: limit)
    }

    func replace(at context: FieldContext, expected: FieldEnvelope, with replacement: FieldEnvelope) async throws
        -> Bool
    {
        let crash = writesBeforeCrash.withLock { remaining -> Bool in
            guard let left = remaining else { return false }
            if left == 0 { return true }
            remaining = left - 1
            return false
        }
        if crash { throw Crash() }
        return await store.replace(at: context, expected: expected, with: replacement)
    }
}

@Suite("Rotation and the resumable re-encryption job")
struct ReencryptionJobTests {
    @Test("needsReencryption and rewrap")
    func rewrap() throws {
        let key1 = try FieldKey.generate(id: "k1")
        let key2 = try FieldKey.generate(id: "k2")
        let context = FieldContext(table: "patients", recordID: "7", field: "mrn")
        let old = FieldEncryptor(keyring: try Keyring(active: key1))
        let envelope = try old.encrypt("MRN-0007", context: context)
        #expect(!old.needsReencryption(envelope))
        let new = FieldEncryptor(keyring: try Keyring(active: key1).rotated(to: key2))
        #expect(new.needsReencryption(envelope))
        let rewrapped = try new.rewrap(envelope, context: context)
        #expect(rewrapped.keyID == "k2")
        #expect(!new.needsReencryption(rewrapped))
        #expect(try new.decryptString(rewrapped, context: context) == "MRN-0007")
        // Rewrapping under the wrong context fails and produces nothing.
        #expect(throws: FieldEncryptionError.decryptionFailed) {
            try new.rewrap(envelope, context: FieldContext(table: "patients", recordID: "8", field: "mrn"))
        }
    }

    @Test("10,000 values: rotate to key 2, crash part-way, resume; all decrypt, none left under key 1")
    func rotationWithCrash() async throws {
        let key1 = try FieldKey.generate(id: "k1")
        let key2 = try FieldKey.generate(id: "k2")
        let keyring1 = try Keyring(active: key1)
        let encryptor1 = FieldEncryptor(keyring: keyring1)
        let store = InMemoryFieldStore()
        var originals: [FieldContext: String] = [:]
        for row in 0..<5_000 {
            for field in ["mrn", "ssn"] {
                let context = FieldContext(table: "patients", recordID: String(format: "%06d", row), field: field)
                let value = "\(field)-\(row)-\(UInt32.random(in: 0...UInt32.max))"
                originals[context] = value
                await store.set(try encryptor1.encrypt(value, context: context), at: context)
            }
        }
        #expect(originals.count == 10_000)

        let encryptor2 = FieldEncryptor(keyring: try keyring1.rotated(to: key2))
        let checkpoints = InMemoryCheckpointStore()
        // First run: crashes after 4,321 writes, in the middle of the 9th batch of 500.
        let crashing = CrashingSource(store: store, writesBeforeCrash: 4_321)
        let progressCount = Mutex(0)
        await #expect(throws: CrashingSource.Crash.self) {
            try await ReencryptionJob(encryptor: encryptor2, source: crashing, checkpoints: checkpoints, batchSize: 500)
                .run { _ in progressCount.withLock { $0 += 1 } }
        }
        #expect(progressCount.withLock { $0 } == 8)
        let afterCrash = await store.allFields()
        #expect(afterCrash.filter { $0.envelope.keyID == "k2" }.count == 4_321)
        #expect(await checkpoints.load() != nil)

        // An application write during the outage (a value updated under the new key) must survive.
        let touched = FieldContext(table: "patients", recordID: "004999", field: "ssn")
        originals[touched] = "updated-by-app"
        await store.set(try encryptor2.encrypt("updated-by-app", context: touched), at: touched)

        // Resume with a fresh job object (as after a restart).
        let resumed = CrashingSource(store: store, writesBeforeCrash: nil)
        let report = try await ReencryptionJob(
            encryptor: encryptor2, source: resumed, checkpoints: checkpoints, batchSize: 500
        ).run()
        // The crashed batch is re-read from the last checkpoint: its 321 finished rows are skipped, not re-encrypted.
        #expect(report.scanned == 10_000 - 8 * 500)
        #expect(report.alreadyCurrent == 321 + 1)
        #expect(report.rewritten == 10_000 - 4_321 - 1)
        #expect(report.unreadableCount == 0)

        let final = await store.allFields()
        #expect(final.count == 10_000)
        #expect(final.allSatisfy { $0.envelope.keyID == "k2" })
        // All decrypt with key 2 alone (key 1 revoked), to the originals.
        let onlyKey2 = FieldEncryptor(keyring: try Keyring(active: key2, revokedKeyIDs: ["k1"]))
        var mismatches = 0
        for stored in final
        where try onlyKey2.decryptString(stored.envelope, context: stored.context)
            != originals[stored.context]
        {
            mismatches += 1
        }
        #expect(mismatches == 0)

        // A second full run finds nothing to do (no double encryption).
        let again = try await ReencryptionJob(encryptor: encryptor2, source: store, batchSize: 1_000).run()
        #expect(again.scanned == 10_000)
        #expect(again.rewritten == 0)
        #expect(again.alreadyCurrent == 10_000)
    }

    @Test("unreadable values are reported and left untouched; concurrent writes are not overwritten")
    func unreadableAndConcurrent() async throws {
        let key1 = try FieldKey.generate(id: "k1")
        let encryptor1 = FieldEncryptor(keyring: try Keyring(active: key1))
        let encryptor2 = FieldEncryptor(keyring: try Keyring(active: key1).rotated(to: try FieldKey.generate(id: "k2")))
        let store = InMemoryFieldStore()
        let good = FieldContext(table: "t", recordID: "1", field: "f")
        let moved = FieldContext(table: "t", recordID: "2", field: "f")
        let envelope = try encryptor1.encrypt("v", context: good)
        await store.set(envelope, at: good)
        await store.set(envelope, at: moved)  // a ciphertext copied into another row
        let report = try await ReencryptionJob(encryptor: encryptor2, source: store).run()
        #expect(report.rewritten == 1)
        #expect(report.unreadableCount == 1)
        #expect(report.unreadable == [moved])
        #expect(await store.value(at: moved) == envelope)
        // Compare-and-swap refuses a stale expected value.
        let fresh = try encryptor2.encrypt("v", context: good)
        #expect(await store.replace(at: good, expected: envelope, with: fresh) == false)
    }
}
