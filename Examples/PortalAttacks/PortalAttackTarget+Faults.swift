internal import Foundation
public import PHIGuardAttackSuite
internal import PortalCore

// Attack 20's faults: a damaged SQLite file, a key file replaced by garbage, an unreachable
// PostgreSQL server. Each is reproduced on copies (or a second portal instance), so the portal the
// other scenarios use is never touched and nothing is left to undo but the copies.

extension PortalAttackTarget {
    /// What the next command of the CLI (a new `Portal.open` on the same configuration, changed only
    /// where the fault lives) answers for `operation` (reads only), through `ErrorReporter.report`.
    /// `.corruptDatabaseFile`: a consistent copy of the SQLite file (`VACUUM INTO`) with every page
    /// after the first overwritten by random bytes (`nil` on PostgreSQL). `.unreadableKeys`: a copy of
    /// the key directory whose `field.keys` holds random bytes (a chmod is no fault for root). `.databaseUnavailable`: the
    /// server's URL with port 1, where nothing listens (`nil` on SQLite).
    public func underFault(_ fault: AttackFault, _ operation: RecordOperation, as session: AttackSession) async throws
        -> AttackResponse?
    {
        guard case .read(_, let id) = operation else { throw AttackTargetError.unsupported("faults for \(operation)") }
        let scratch = directory.appendingPathComponent("fault-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        var databasePath = portal.databaseFilePath
        var keyDirectory = directory.appendingPathComponent("keys").path
        var databaseURL = postgresURL
        switch fault {
        case .corruptDatabaseFile:
            guard postgresURL == nil else { return nil }
            databasePath = scratch.appendingPathComponent("portal.sqlite").path
            _ = try await attackStorage.execute("VACUUM INTO ?", [.text(databasePath)])
            try Self.overwritePagesAfterTheFirst(databasePath)
        case .unreadableKeys:
            let copy = scratch.appendingPathComponent("keys", isDirectory: true)
            try FileManager.default.createDirectory(
                at: copy, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            for name in try FileManager.default.contentsOfDirectory(atPath: keyDirectory) {
                var bytes = try Data(contentsOf: URL(fileURLWithPath: keyDirectory).appendingPathComponent(name))
                if name == "field.keys" { bytes = Data((0..<bytes.count).map { _ in UInt8.random(in: 0...255) }) }
                let path = copy.appendingPathComponent(name).path
                guard
                    FileManager.default.createFile(
                        atPath: path, contents: bytes,
                        attributes: [.posixPermissions: name.hasSuffix(".pub") ? 0o644 : 0o600])
                else { throw AttackTargetError.unsupported("copying key file \(name)") }
            }
            keyDirectory = copy.path
        case .databaseUnavailable:
            guard let url = databaseURL, var components = URLComponents(string: url) else { return nil }
            components.port = 1
            databaseURL = components.string
        }
        let configuration = PortalConfiguration(
            databasePath: databasePath, keyDirectory: keyDirectory,
            policyPath: policyPath,
            databaseURL: databaseURL, clock: clock, logger: Self.quiet)
        return try await Self.withTimeout(seconds: 60) {
            var opened: Portal?
            do {
                let next = try await Portal.open(configuration)
                opened = next
                let chart = try await next.chart(token: session.token, patientID: id)
                try? await next.close()
                return .allowed(values: Dictionary(uniqueKeysWithValues: chart.fields.map { ($0.name, $0.value) }))
            } catch {
                try? await opened?.close()
                return .refused(self.refusal(error))
            }
        }
    }

    /// Overwrites every page of the SQLite file at `path` but the first (the header and schema) with
    /// random bytes: every table's pages are garbage.
    static func overwritePagesAfterTheFirst(_ path: String) throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        guard bytes.count > 100 else {
            throw AttackTargetError.unsupported("corrupting a file of \(bytes.count) bytes")
        }
        let declared = Int(bytes[16]) << 8 | Int(bytes[17])
        let pageSize = declared == 1 ? 65_536 : declared
        guard pageSize >= 512, bytes.count > pageSize else {
            throw AttackTargetError.unsupported("corrupting a database of one page")
        }
        for index in pageSize..<bytes.count { bytes[index] = UInt8.random(in: 0...255) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// `body`'s result, or a harness error after `seconds` (an unreachable server must not hang the run).
    static func withTimeout(seconds: Int, _ body: @escaping @Sendable () async -> AttackResponse) async throws
        -> AttackResponse
    {
        try await withThrowingTaskGroup(of: AttackResponse?.self) { group in
            group.addTask { await body() }
            group.addTask {
                try await Task.sleep(for: .seconds(seconds))
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            guard let first else { throw AttackTargetError.unsupported("an answer within \(seconds) s") }
            return first
        }
    }
}
