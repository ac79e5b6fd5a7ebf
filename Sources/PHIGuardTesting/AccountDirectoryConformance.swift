import Foundation
public import PHIGuardAuthentication
import PHIGuardTOTP
import Testing

/// The behaviour every `AccountAdministration` directory must show, checked the same way for the
/// in-memory, SQLite and PostgreSQL reference directories (and for an app's own). `directory` must
/// be empty; `second`, when given, is another instance over the same storage (another connection,
/// another process's view), used for the concurrent-registration check.
public enum AccountDirectoryConformance {
    /// Runs every check.
    public static func check(_ directory: any AccountAdministration, second: (any AccountAdministration)? = nil)
        async throws
    {
        let other = second ?? directory
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let totp = TOTP(secret: try TOTPSecret())
        let hash = "$argon2id$v=19$m=4096,t=1,p=1$c29tZXNhbHQ$aGFzaA"

        // Create and read back, by canonical name and by id; new accounts have no privileges.
        let alice = try LoginName("Alice")
        let created = try await directory.createAccount(loginName: alice, passwordHash: hash, totp: totp)
        let id = try #require(created)
        let byName = try #require(try await directory.account(loginName: try LoginName("alice")))
        #expect(byName.id == id)
        #expect(byName.passwordHash == hash)
        #expect(byName.roles.isEmpty && byName.patientID == nil && !byName.isDisabled && byName.attributes.isEmpty)
        let stored = try #require(byName.totp)
        #expect(stored.secret == totp.secret)
        #expect(stored.configuration == totp.configuration)
        #expect(try stored.code(at: now) == (try totp.code(at: now)))
        #expect(try await other.account(id: id)?.id == id)
        #expect(try await directory.account(id: "a-unknown") == nil)
        #expect(try await directory.account(loginName: try LoginName("bob")) == nil)

        // Without an authenticator.
        let plainID = try #require(
            try await directory.createAccount(loginName: try LoginName("carol"), passwordHash: hash, totp: nil))
        #expect(try await directory.account(id: plainID)?.totp == nil)

        // A taken name, another spelling of it, and a look-alike (same skeleton) create nothing.
        #expect(try await directory.createAccount(loginName: alice, passwordHash: hash, totp: nil) == nil)
        #expect(try await other.createAccount(loginName: try LoginName("ALICE"), passwordHash: hash, totp: nil) == nil)
        let mary = try #require(
            try await directory.createAccount(loginName: try LoginName("mary"), passwordHash: hash, totp: nil))
        #expect(
            try await directory.createAccount(loginName: try LoginName("rnary"), passwordHash: hash, totp: nil) == nil)

        // Administration: each change reads back (through the other instance too), the rest unchanged.
        try await directory.setRoles(["nurse", "auditor"], accountID: id)
        try await directory.setPatientID("p-7", accountID: id)
        try await directory.setAttributes(["department": "cardiology", "clearance": "high"], accountID: id)
        try await directory.setPasswordHash(hash + "x", accountID: id)
        var changed = try #require(try await other.account(id: id))
        #expect(changed.roles == ["nurse", "auditor"])
        #expect(changed.patientID == "p-7")
        #expect(changed.attributes == ["department": "cardiology", "clearance": "high"])
        #expect(changed.passwordHash == hash + "x")
        #expect(changed.totp?.secret == totp.secret)
        try await directory.setDisabled(true, accountID: id)
        try await directory.setPatientID(nil, accountID: id)
        changed = try #require(try await directory.account(loginName: alice))
        #expect(changed.isDisabled && changed.patientID == nil && changed.roles == ["nurse", "auditor"])
        try await directory.setDisabled(false, accountID: id)
        #expect(try await directory.account(id: id)?.isDisabled == false)
        #expect(try await directory.account(id: mary)?.roles.isEmpty == true)

        // A second factor enrolled after creation (and replaced, and removed) reads back through the
        // other instance; nothing else on the row changes.
        let later = TOTP(secret: try TOTPSecret(), configuration: try TOTPConfiguration(digits: .eight, period: 60))
        try await directory.setTOTP(later, accountID: plainID)
        let enrolled = try #require(try await other.account(id: plainID)?.totp)
        #expect(enrolled.secret == later.secret && enrolled.configuration == later.configuration)
        #expect(try enrolled.code(at: now) == (try later.code(at: now)))
        try await directory.setTOTP(totp, accountID: plainID)
        #expect(try await other.account(loginName: try LoginName("carol"))?.totp?.secret == totp.secret)
        try await other.setTOTP(nil, accountID: plainID)
        let cleared = try #require(try await directory.account(id: plainID))
        #expect(cleared.totp == nil && cleared.passwordHash == hash && cleared.roles.isEmpty && !cleared.isDisabled)
        #expect(try await directory.account(id: id)?.totp?.secret == totp.secret)
        await #expect(throws: (any Error).self) { try await directory.setTOTP(later, accountID: "a-unknown") }

        // Administration of an unknown account fails and creates nothing.
        await #expect(throws: (any Error).self) { try await directory.setRoles(["admin"], accountID: "a-unknown") }
        #expect(try await directory.account(id: "a-unknown") == nil)

        // Two concurrent registrations of one name (from both instances): exactly one account.
        for round in 0..<6 {
            let name = try LoginName("racer\(round)")
            let winners = try await withThrowingTaskGroup(of: String?.self) { group in
                group.addTask { try await directory.createAccount(loginName: name, passwordHash: hash, totp: nil) }
                group.addTask { try await other.createAccount(loginName: name, passwordHash: hash, totp: nil) }
                var ids: [String] = []
                for try await id in group { if let id { ids.append(id) } }
                return ids
            }
            #expect(winners.count == 1, "round \(round): \(winners.count) accounts for one name")
            #expect(try await directory.account(loginName: name)?.id == winners.first)
        }
    }
}

/// The behaviour every `CareTeamStore` must show. `store` must be empty; `second`, when given, is
/// another instance over the same storage, which must see the first one's changes at once.
public enum CareTeamStoreConformance {
    /// Runs every check.
    public static func check(_ store: any CareTeamStore, second: (any CareTeamStore)? = nil) async throws {
        let other = second ?? store
        #expect(try await store.patients(ofMember: "u-1").isEmpty)
        try await store.add(memberID: "u-1", patientID: "p-1")
        try await store.add(memberID: "u-1", patientID: "p-2")
        try await store.add(memberID: "u-2", patientID: "p-1")
        try await store.add(memberID: "u-1", patientID: "p-1")  // again: no change
        #expect(try await other.patients(ofMember: "u-1") == ["p-1", "p-2"])
        #expect(try await other.patients(ofMember: "u-2") == ["p-1"])
        #expect(try await other.remove(memberID: "u-1", patientID: "p-2"))
        #expect(try await store.remove(memberID: "u-1", patientID: "p-2") == false)
        #expect(try await store.patients(ofMember: "u-1") == ["p-1"])
        await #expect(throws: CareTeamStoreError.emptyIdentifier) {
            try await store.add(memberID: "", patientID: "p-1")
        }
        await #expect(throws: CareTeamStoreError.emptyIdentifier) {
            try await store.add(memberID: "u-1", patientID: "")
        }
        #expect(try await store.patients(ofMember: "").isEmpty)
    }
}
