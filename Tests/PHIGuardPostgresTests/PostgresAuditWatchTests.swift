import Foundation
import Logging
import PHIGuardAudit
import PHIGuardPostgres
import PostgresNIO
import Testing

/// The watcher following a live PostgreSQL log (the path `phiguard audit watch --postgres` takes).
@Suite("PostgreSQL audit watch", .serialized, .enabled(if: TestDatabase.enabled))
struct PostgresAuditWatchTests {
    @Test("a watcher over PostgreSQL sees only new records, raises the planted alerts, and notices an SQL edit")
    func watch() async throws {
        let (chainKey, signingKey) = try PostgresAuditSinkTests.keys()
        try await TestDatabase.withClient(connections: 1) { client in
            _ = try await client.query(
                PostgresQuery(unsafeSQL: "DROP TABLE IF EXISTS pgwatch_audit_records, pgwatch_audit_checkpoints"),
                logger: Logger(label: "test"))
        }
        try await TestDatabase.withClient { client in
            let sink = try PostgresAuditSink(client: client, tablePrefix: "pgwatch_audit")
            try await sink.migrate()
            let log = try await AuditLog(sink: sink, chainKey: chainKey, signingKey: signingKey)
            for index in 1...50 { try await log.append(try PostgresAuditSinkTests.event(index * 5 + 1)) }
            var watcher = AuditWatcher(source: sink, monitor: SecurityMonitor(), chainKey: chainKey)
            let history = try await watcher.poll()
            #expect(history.isEmpty, "\(history.map(\.summary))")
            #expect(watcher.lastSequence == 50)

            try await log.append(try PostgresAuditSinkTests.event(1000, breakGlass: true))
            for patient in 0..<12 {
                try await log.append(
                    try .accessDecision(
                        actorID: "user:mallory", role: "patient", action: "read", resourceType: "Observation",
                        patientID: "MRN-\(500 + patient)", allowed: false))
            }
            let alerts = try await watcher.poll()
            #expect(alerts.map(\.rule.rawValue).sorted() == ["break-glass-invoked", "denial-probing"])
            try await log.close()

            _ = try await client.query(
                PostgresQuery(unsafeSQL: "UPDATE pgwatch_audit_records SET actor_id = 'user:eve' WHERE sequence = 30"),
                logger: Logger(label: "test"))
            var fresh = AuditWatcher(source: sink, monitor: SecurityMonitor(), chainKey: chainKey)
            let found = try await fresh.poll().filter { $0.rule == .auditVerificationFailed }
            #expect(found.map(\.sequence) == [30])
        }
    }
}
