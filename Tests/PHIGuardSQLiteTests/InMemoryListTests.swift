import Foundation
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardFieldEncryption
import PHIGuardRecords
import PHIGuardSQLite
import Testing

/// `GuardedRecords.list` and `count` on `InMemoryRecordStore` answer exactly as on SQLite: the same
/// 60 notes (care team, labels hiding a field per row, plain and blind-indexed searches) in both
/// stores, every principal, filter and sort, page by page.
@Suite struct InMemoryListTests {
    @Test func inMemoryListsAndCountsExactlyAsSQLite() async throws {
        let world = try await ListWorld()
        let memory = InMemoryRecordStore()
        for index in 0..<60 {
            let record = try #require(
                try await world.store.fetch(String(format: "n-%02d", index), schema: world.schema))
            #expect(try await memory.insert(record, schema: world.schema))
        }
        for patient in ListWorld.team { memory.addCareTeamMember(subjectID: "u-doc", patientID: patient) }
        let inMemory = try GuardedRecords(
            schema: world.schema, store: memory, engine: world.engine, cipher: world.cipher, audit: world.log)

        let principals = [
            world.principal("u-doc", ["physician"]), world.principal("u-clerk", ["clerk"]),
            world.principal("u-doc", ["nobody"]), world.principal("u-other", ["physician"]),
        ]
        let filters: [[RecordFilter]] = [
            [], [.equals(field: "ward", value: "w1")], [.patient("p-3")], [.equals(field: "name", value: "name 4")],
            [.equals(field: "ward", value: "w2"), .patient("p-5")],
        ]
        let orders = [
            RecordOrder.recordID, RecordOrder(.recordID, descending: true), RecordOrder(.patientID),
            RecordOrder(.field("ward"), descending: true),
        ]
        var compared = 0
        for principal in principals {
            for filter in filters {
                for order in orders {
                    let sqlite = await Self.pages(world.records, principal, filter, order)
                    let memoryPages = await Self.pages(inMemory, principal, filter, order)
                    #expect(sqlite == memoryPages, "\(principal.subject.roles) \(filter) \(order)")
                    compared += 1
                }
                let hasSearch = filter.contains { if case .equals("name", _) = $0 { true } else { false } }
                if !hasSearch {
                    let sqliteCount = try await world.records.count(as: principal, where: filter)
                    #expect(try await inMemory.count(as: principal, where: filter) == sqliteCount)
                }
            }
        }
        #expect(compared == 80)
        // The physician's pages are not trivially empty: 20 notes, 4 of them without their body.
        let doctor = await Self.pages(inMemory, principals[0], [], .recordID)
        #expect(doctor.count == 20)
        #expect(doctor.filter { !$0.contains("body") }.count == 4)
        // Removing a membership takes effect at once (and the engine must agree, or the list fails closed).
        memory.removeCareTeamMember(subjectID: "u-doc", patientID: "p-0")
        #expect(try await inMemory.count(as: principals[0]) == 19)
        try await world.close()
    }

    /// Every page of the query, each row as `id` then its visible field names; a refusal as its error.
    static func pages(
        _ records: GuardedRecords, _ principal: AuthenticatedPrincipal, _ filter: [RecordFilter], _ order: RecordOrder
    ) async -> [[String]] {
        var result: [[String]] = []
        do {
            var page = try await records.list(as: principal, where: filter, orderBy: order, limit: 7)
            result += page.records.map { [$0.id] + $0.fieldNames }
            while let cursor = page.nextCursor {
                page = try await records.list(as: principal, where: filter, orderBy: order, limit: 7, after: cursor)
                result += page.records.map { [$0.id] + $0.fieldNames }
            }
        } catch {
            result.append(["error: \(error)"])
        }
        return result
    }
}
