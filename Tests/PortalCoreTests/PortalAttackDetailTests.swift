import PHIGuardAttackSuite
import PHIGuardErrors
import PHIGuardRecords
import PortalAttacks
import PortalCore
import Testing

/// What attacks 9 and 20 actually tried against the portal: a scenario that silently stopped
/// sending list parameters or reproducing faults would still be `blocked`, so these check the attempts.
@Suite("Attack suite details against the complete portal (attacks 9 and 20)", .serialized)
struct PortalAttackDetailTests {
    /// Runs scenario `id` against `target` and returns its attempts (printed), expecting `blocked`.
    static func attempts(_ id: String, against target: PortalAttackTarget) async throws -> [AttackAttempt] {
        let scenario = try #require(AttackSuite.scenario(id: id))
        let result = await scenario.run(against: target)
        for attempt in result.attempts { print("  \(id): \(attempt.tried) → \(attempt.got)") }
        #expect(result.verdict == .blocked, "\(result.verdict)")
        return result.attempts
    }

    @Test("attack 9 sends hostile sort, filter, limit and cursor parameters; each is refused with a 400 or inert")
    func listParameters() async throws {
        let target = try await PortalAttackTarget.forTests()
        let attempts = try await Self.attempts("attack-09-search-injection", against: target)
        await target.closeForTests()
        let lists = attempts.filter { $0.tried.contains(" lists chart with ") }
        for parameter in ["sort=", "filter.", "limit=", "cursor="] {
            #expect(lists.contains { $0.tried.contains(parameter) }, "no list attempt with \(parameter)")
        }
        // Alice replays dr.grey's genuine cursor (a long one): refused, not a page of his patients.
        #expect(lists.contains { $0.tried.hasPrefix("alice lists chart with cursor=") && $0.tried.contains("chars)") })
        // An injected sort key and an unknown filter field are refused as invalid requests.
        for parameter in ["sort=\"1,(SELECT 1)\"", "filter.no_such_field="] {
            let refused = lists.filter { $0.tried.contains(parameter) }
            #expect(!refused.isEmpty && refused.allSatisfy { $0.got.hasPrefix("refused: 400 ") }, "\(refused)")
        }
        // The limit at Int.max + 1 and the clean-list control.
        #expect(lists.contains { $0.tried.contains("9223372036854775808") && $0.got.hasPrefix("refused: 400 ") })
        #expect(attempts.contains { $0.tried.contains("lists chart again without parameters (control)") })
    }

    @Test("the portal's sort: by patient id descending, an unknown field is invalid input, an encrypted one refused")
    func sortOption() async throws {
        let fixture = try await PortalFixture.make()
        let token = try await fixture.signIn("dr.grey")
        let portal = fixture.portal
        let ascending = try await portal.listPatients(token: token, limit: 100).patients.map(\.patientID)
        let descending = try await portal.listPatients(
            token: token, sort: try PatientSort(parsing: "-patient"), limit: 100
        ).patients.map(\.patientID)
        #expect(ascending.count > 1)
        #expect(Set(descending) == Set(ascending))
        #expect(descending == descending.sorted(by: >))
        await #expect(throws: PortalError.invalidInput("sort field")) {
            _ = try await portal.listPatients(token: token, sort: try PatientSort(parsing: "name; DROP TABLE x"))
        }
        #expect(throws: PortalError.invalidInput("sort field")) { _ = try PatientSort(parsing: "-") }
        await #expect(throws: RecordError.queryRefused("encrypted field 'name' cannot be sorted")) {
            _ = try await portal.listPatients(token: token, sort: try PatientSort(parsing: "name"))
        }
        #expect(throws: PortalError.invalidInput("filter field")) {
            _ = try PatientSearch(filters: ["ssn": "078-05-1120"])
        }
        await fixture.close()
    }

    @Test(
        "attack 20 reproduces a damaged database file and a garbage key file; each answer is generic with a reference")
    func faults() async throws {
        let target = try await PortalAttackTarget.forTests()
        let attempts = try await Self.attempts("attack-20-error-leakage", against: target)
        await target.closeForTests()
        for fault in ["corruptDatabaseFile", "unreadableKeys"] {
            #expect(attempts.contains { $0.tried == "read under \(fault)" && $0.got.hasPrefix("refused: 5") })
            #expect(attempts.contains { $0.tried == "read after undoing \(fault) (control)" })
        }
        #expect(
            attempts.contains {
                $0.tried == "read under databaseUnavailable" && $0.got == "not applicable to this target"
            })
    }
}

@Suite(
    "Attack suite details against the complete portal on PostgreSQL (attack 20)", .serialized,
    .enabled(if: PortalTestDatabase.enabled))
struct PortalPostgresAttackDetailTests {
    @Test("attack 20 reproduces an unreachable server and a garbage key file; the file fault does not apply")
    func faults() async throws {
        let target = try await PortalAttackTarget.forTests(onPostgres: true)
        let attempts = try await PortalAttackDetailTests.attempts("attack-20-error-leakage", against: target)
        await target.closeForTests()
        for fault in ["databaseUnavailable", "unreadableKeys"] {
            #expect(attempts.contains { $0.tried == "read under \(fault)" && $0.got.hasPrefix("refused: 5") })
        }
        #expect(
            attempts.contains {
                $0.tried == "read under corruptDatabaseFile" && $0.got == "not applicable to this target"
            })
    }
}
