import Foundation
import PHIGuardTestSupport
import PortalAttacks
import Synchronization

/// The PostgreSQL databases made by ``PortalAttackTarget/forTests(patientCount:onPostgres:flawedExport:)``,
/// by target, dropped by ``PortalAttackTarget/closeForTests()``.
private let testDatabases = Mutex<[ObjectIdentifier: PortalTestDatabase]>([:])

extension PortalAttackTarget {
    /// The hospital policy of `Examples/Policies`.
    static let hospitalPolicy = Fixture.repositoryRoot.appendingPathComponent("Examples/Policies/hospital.yaml").path

    /// A target on an SQLite file, or with `onPostgres` on a fresh database of the test server
    /// (with its data directory when `scripts/with-test-postgres.sh` exported it, so attack 16 scans
    /// the server's files). Close it with ``closeForTests()``.
    static func forTests(patientCount: Int = 12, onPostgres: Bool = false, flawedExport: Bool = false)
        async throws -> PortalAttackTarget
    {
        guard onPostgres else {
            return try await PortalAttackTarget(
                policyPath: hospitalPolicy, patientCount: patientCount, flawedExport: flawedExport)
        }
        let database = try await PortalTestDatabase.create()
        let target = try await PortalAttackTarget(
            policyPath: hospitalPolicy, patientCount: patientCount,
            postgres: .init(
                url: database.url, client: try PortalTestDatabase.client(url: database.url),
                dataDirectory: ProcessInfo.processInfo.environment["PHIGUARD_TEST_POSTGRES_DATA"]),
            flawedExport: flawedExport)
        testDatabases.withLock { $0[ObjectIdentifier(target)] = database }
        return target
    }

    /// ``close()``, then drops the PostgreSQL database ``forTests(patientCount:onPostgres:flawedExport:)`` made.
    func closeForTests() async {
        await close()
        if let database = testDatabases.withLock({ $0.removeValue(forKey: ObjectIdentifier(self)) }) {
            await database.drop()
        }
    }
}
