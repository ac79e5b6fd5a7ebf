import Foundation
import PHIGuardTestSupport
import Synchronization
import Testing

@Suite("phiguard audit watch, report and SIEM export, end to end", .serialized)
struct AuditWatchCLITests {
    /// Collects a pipe's output as it arrives.
    final class Collector: Sendable {
        let text = Mutex("")
        init(_ pipe: Pipe) {
            pipe.fileHandleForReading.readabilityHandler = { [self] handle in
                let data = handle.availableData
                if !data.isEmpty { text.withLock { $0 += String(decoding: data, as: UTF8.self) } }
            }
        }
        var value: String { text.withLock { $0 } }
    }

    static func waitFor(_ timeout: Duration, _ condition: () -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return condition()
    }

    static func event(_ ts: Int64, actor: String, patient: String, allowed: Bool, breakGlass: Bool = false) -> String {
        let glass = breakGlass ? #","breakGlass":true,"breakGlassReason":"ETREAT""# : ""
        return #"{"kind":"access.decision","ts":\#(ts),"actor":"\#(actor)","role":"nurse","action":"read","#
            + #""resourceType":"Observation","patient":"\#(patient)","outcome":"\#(allowed ? "allow" : "deny")"\#(glass)}"#
    }

    @Test("watch follows a live SQLite log and prints exactly the planted incidents' alerts")
    func watchSQLite() async throws {
        let directory = try AuditCLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = directory.appendingPathComponent("keys").path
        let database = directory.appendingPathComponent("audit.sqlite").path
        #expect(try AuditCLITests.run(["audit", "keygen", "--output", keys]).status == 0)
        let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
        let history = (0..<5).map {
            Self.event(now - 60_000_000 + Int64($0), actor: "user:rn-1", patient: "MRN-\($0)", allowed: true)
        }
        let seeded = try AuditCLITests.run(
            ["audit", "append", "--sqlite", database, "--keys", keys], input: history.joined(separator: "\n") + "\n")
        try #require(seeded.status == 0, "\(seeded.stderr)")

        let process = Process()
        process.executableURL = AuditCLITests.binary
        process.arguments = [
            "audit", "watch", "--sqlite", database, "--keys", keys, "--interval-ms", "100", "--record",
        ]
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        let out = Collector(stdout)
        let err = Collector(stderr)
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        #expect(try await Self.waitFor(.seconds(60)) { err.value.contains("watching from sequence 5") }, "\(err.value)")

        // Planted: one break-glass access, and one principal denied on 12 distinct patients in a minute.
        var planted = [Self.event(now, actor: "user:dr-9", patient: "MRN-77", allowed: true, breakGlass: true)]
        planted += (0..<12).map {
            Self.event(now + Int64($0) * 1_000_000, actor: "user:mallory", patient: "MRN-\(100 + $0)", allowed: false)
        }
        let appended = try AuditCLITests.run(
            ["audit", "append", "--sqlite", database, "--keys", keys], input: planted.joined(separator: "\n") + "\n")
        try #require(appended.status == 0, "\(appended.stderr)")

        let arrived = try await Self.waitFor(.seconds(60)) { out.value.split(separator: "\n").count >= 2 }
        // Give a stray third alert the chance to show up before judging "exactly".
        try await Task.sleep(for: .milliseconds(500))
        process.terminate()
        process.waitUntilExit()
        #expect(arrived, "stdout: \(out.value) stderr: \(err.value)")
        let alerts = try out.value.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
        #expect(alerts.compactMap { $0["rule"] as? String }.sorted() == ["break-glass-invoked", "denial-probing"])
        #expect(alerts.contains { $0["actor"] as? String == "user:mallory" && $0["count"] as? Int == 11 })
        // --record chained both alerts into the log, which still verifies.
        let verify = try AuditCLITests.run(["audit", "verify", "--sqlite", database, "--keys", keys])
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        #expect(verify.stdout.contains("intact: 20 records"), "5 + 13 planted + 2 alerts: \(verify.stdout)")
        let ecs = try AuditCLITests.run(["audit", "export", "--sqlite", database, "--format", "ecs"])
        #expect(ecs.stdout.split(separator: "\n").filter { $0.contains(#""kind":"alert""#) }.count == 2)
    }

    @Test(
        "watch --postgres follows a live PostgreSQL log and prints each alert as it happens",
        .enabled(
            if: ProcessInfo.processInfo.environment["PHIGUARD_POSTGRES_URL"] != nil
                || ProcessInfo.processInfo.environment["CI"] != nil))
    func watchPostgres() async throws {
        try #require(
            ProcessInfo.processInfo.environment["PHIGUARD_POSTGRES_URL"] != nil,
            "PHIGUARD_POSTGRES_URL is not set: run the tests through scripts/with-test-postgres.sh")
        let directory = try AuditCLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = directory.appendingPathComponent("keys").path
        #expect(try AuditCLITests.run(["audit", "keygen", "--output", keys]).status == 0)
        let log = ["--postgres", "--postgres-table-prefix", "watchcli_\(UInt32.random(in: 0...UInt32.max))"]
        let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
        let history = (0..<5).map {
            Self.event(now - 60_000_000 + Int64($0), actor: "user:rn-1", patient: "MRN-\($0)", allowed: true)
        }
        let seeded = try AuditCLITests.run(
            ["audit", "append", "--keys", keys] + log, input: history.joined(separator: "\n") + "\n")
        try #require(seeded.status == 0, "\(seeded.stderr)")

        let process = Process()
        process.executableURL = AuditCLITests.binary
        process.arguments = ["audit", "watch", "--keys", keys, "--interval-ms", "100", "--record"] + log
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        let out = Collector(stdout)
        let err = Collector(stderr)
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        #expect(try await Self.waitFor(.seconds(60)) { err.value.contains("watching from sequence 5") }, "\(err.value)")
        #expect(out.value.isEmpty, "the history raises nothing: \(out.value)")

        // First incident: a break-glass access. Its alert is printed before the next incident exists.
        let first = try AuditCLITests.run(
            ["audit", "append", "--keys", keys] + log,
            input: Self.event(now, actor: "user:dr-9", patient: "MRN-77", allowed: true, breakGlass: true) + "\n")
        try #require(first.status == 0, "\(first.stderr)")
        let firstArrived = try await Self.waitFor(.seconds(60)) { out.value.contains("break-glass-invoked") }
        #expect(firstArrived, "stdout: \(out.value) stderr: \(err.value)")
        #expect(!out.value.contains("denial-probing"))

        // Second incident: one principal denied on 12 distinct patients within a minute.
        let probing = (0..<12).map {
            Self.event(
                now + Int64($0 + 1) * 1_000_000, actor: "user:mallory", patient: "MRN-\(100 + $0)", allowed: false)
        }
        let second = try AuditCLITests.run(
            ["audit", "append", "--keys", keys] + log, input: probing.joined(separator: "\n") + "\n")
        try #require(second.status == 0, "\(second.stderr)")
        let arrived = try await Self.waitFor(.seconds(60)) { out.value.contains("denial-probing") }
        try await Task.sleep(for: .milliseconds(500))
        process.terminate()
        process.waitUntilExit()
        #expect(arrived, "stdout: \(out.value) stderr: \(err.value)")
        let alerts = try out.value.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
        #expect(alerts.compactMap { $0["rule"] as? String } == ["break-glass-invoked", "denial-probing"])
        #expect(alerts.last?["actor"] as? String == "user:mallory" && alerts.last?["count"] as? Int == 11)
        // --record chained both alerts into the PostgreSQL log, which still verifies.
        let verify = try AuditCLITests.run(["audit", "verify", "--keys", keys] + log)
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        #expect(verify.stdout.contains("intact: 20 records"), "5 + 13 planted + 2 alerts: \(verify.stdout)")
    }

    @Test("report writes text, JSON and a self-contained HTML page; export writes syslog, ECS and BALP")
    func reportAndExport() throws {
        let directory = try AuditCLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = directory.appendingPathComponent("keys").path
        let database = directory.appendingPathComponent("audit.sqlite").path
        #expect(try AuditCLITests.run(["audit", "keygen", "--output", keys]).status == 0)
        let base: Int64 = 1_793_664_000_000_000  // 2026-11-03T00:00:00Z
        var lines = (0..<20).map {
            Self.event(
                base + Int64($0) * 60_000_000, actor: "user:rn-\($0 % 3)", patient: "MRN-\($0)", allowed: $0 != 7)
        }
        lines.append(
            Self.event(base + 3_600_000_000, actor: "user:dr-1", patient: "MRN-5", allowed: true, breakGlass: true))
        #expect(
            try AuditCLITests.run(
                ["audit", "append", "--sqlite", database, "--keys", keys], input: lines.joined(separator: "\n") + "\n"
            ).status == 0)

        let text = try AuditCLITests.run([
            "audit", "report", "--sqlite", database, "--since", "2026-11-03", "--until", "2026-11-04",
        ])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("21 records, 21 access decisions"), "\(text.stdout)")
        #expect(text.stdout.contains("break-glass-invoked"))
        let json = try AuditCLITests.run([
            "audit", "report", "--sqlite", database, "--since", "2026-11-03", "--format", "json",
        ])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["accessDecisions"] as? Int == 21)
        let html = directory.appendingPathComponent("review.html").path
        let page = try AuditCLITests.run(
            ["audit", "report", "--sqlite", database, "--since", "2026-11-03", "--format", "html", "--output", html])
        #expect(page.status == 0, "\(page.stderr)")
        let content = try String(contentsOfFile: html, encoding: .utf8)
        #expect(content.contains("<svg ") && !content.contains("<script"))
        let bad = try AuditCLITests.run(["audit", "report", "--sqlite", database, "--since", "yesterday-ish"])
        #expect(bad.status == 64)

        let config = directory.appendingPathComponent("monitoring.yaml").path
        try Data("bulk-access:\n  max-patients: lots\n".utf8).write(to: URL(fileURLWithPath: config))
        let badConfig = try AuditCLITests.run([
            "audit", "report", "--sqlite", database, "--since", "1d", "--config", config,
        ])
        #expect(badConfig.status == 65)
        #expect(badConfig.stderr.contains("monitoring.yaml:2:17:"), "\(badConfig.stderr)")

        let syslog = try AuditCLITests.run([
            "audit", "export", "--sqlite", database, "--format", "syslog", "--hostname", "portal-1",
        ])
        #expect(syslog.stdout.split(separator: "\n").count == 21)
        #expect(
            syslog.stdout.split(separator: "\n").allSatisfy {
                $0.hasPrefix("<") && $0.contains(">1 2026-11-03T") && $0.contains(" portal-1 phiguard - ")
            })
        let ecs = try AuditCLITests.run(["audit", "export", "--sqlite", database, "--format", "ecs"])
        #expect(ecs.stdout.split(separator: "\n").count == 21)
        #expect(ecs.stdout.contains(#""@timestamp":"2026-11-03T"#))
        let balp = try AuditCLITests.run(["audit", "export", "--sqlite", database, "--format", "balp"])
        let balpLines = balp.stdout.split(separator: "\n")
        #expect(balpLines.count == 21)
        #expect(balpLines.filter { $0.contains("IHE.BasicAudit.PatientRead") }.count == 19)
        #expect(balpLines.filter { $0.contains("IHE.BasicAudit.AuthZconsent") }.count == 2)
    }
}
