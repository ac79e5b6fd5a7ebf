import Foundation
import PHIGuardAuthentication
import PHIGuardFieldEncryption
import PHIGuardSQLite
import PHIGuardTesting
import Testing

@Suite("SQLiteDatabase: the break-glass, account and care-team stores share the file's connection")
struct SQLiteDatabaseSealedStoresTests {
    @Test(
        "built from one database they share its connection, pass their conformance suites, and survive a shared close")
    func sharedConnection() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sealed-\(UUID()).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let database = try await SQLiteDatabase.open(path: path, busyTimeout: .seconds(60))
        let sealing = try RowSealingKey.generate()
        let encryptor = FieldEncryptor(keyring: try Keyring(active: try FieldKey.generate(id: "k1")))
        let grants = try await SQLiteBreakGlassStore.open(in: database)
        let accounts = try await SQLiteAccountDirectory.open(in: database, sealingKey: sealing, encryptor: encryptor)
        let careTeams = try await SQLiteCareTeamStore.open(in: database, sealingKey: sealing)
        let identities = [grants.connectionIdentity, accounts.connectionIdentity, careTeams.connectionIdentity]
        #expect(identities.allSatisfy { $0 == database.connectionIdentity })

        try await BreakGlassStoreConformance.check(grants)
        try await AccountDirectoryConformance.check(accounts)
        try await CareTeamStoreConformance.check(careTeams)

        // Closing a store built from the database leaves the database (and the other stores) open.
        try await grants.close()
        try await careTeams.close()
        let reopened = try await SQLiteCareTeamStore.open(in: database, sealingKey: sealing)
        _ = try await reopened.patients(ofMember: "u-1")
        #expect(try await accounts.account(id: "no-such-account") == nil)
        try await database.close()
    }
}
