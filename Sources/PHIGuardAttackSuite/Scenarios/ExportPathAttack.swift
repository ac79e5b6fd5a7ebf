// Attack 10: path traversal in an export's output path.
import Foundation

extension AttackScenario {
    /// Attack 10.
    static let exportPathTraversal = AttackScenario(
        "attack-10-export-path-traversal",
        "Path traversal in an export path (../, absolute paths, a planted symlink, NUL and newline): refused, "
            + "nothing written outside the export folder",
        requires: [.export]
    ) { probe in
        let target = probe.target
        let record = probe.fixture.ownRecord
        guard let folder = target.exportFolder.map({ URL(fileURLWithPath: $0).standardizedFileURL.path }) else {
            return .inconclusive(reason: "the target names no export folder")
        }
        guard let session = try await probe.signIn(probe.fixture.patient) else {
            return .inconclusive(reason: "\(probe.fixture.patient.loginName) could not sign in")
        }
        let files = FileManager.default
        let tag = UUID().uuidString.prefix(8).lowercased()
        // A fresh folder outside the export folder: where an escaping export would land.
        let outside = files.temporaryDirectory.appendingPathComponent("attack-10-outside-\(tag)").standardizedFileURL
            .path
        try files.createDirectory(atPath: outside, withIntermediateDirectories: true)
        var made: [String] = [outside]
        defer { for path in made { try? files.removeItem(atPath: path) } }

        // Control: a plain new name in the folder is exported (else the refusals below prove nothing).
        let control = "attack-10-control-\(tag).json"
        made.append(folder + "/" + control)
        let allowed = try await target.export(type: record.type, id: record.id, to: control, as: session)
        guard allowed.isAllowed, files.fileExists(atPath: folder + "/" + control) else {
            return .inconclusive(reason: "the control export to a new name in the export folder failed: \(allowed)")
        }
        probe.note("export \(record.id) to \(control.debugDescription) (control)", allowed.description, breached: false)

        // The symbolic link an attacker with write access to the folder plants, pointing outside.
        let link = "attack-10-link-\(tag).json"
        made.append(folder + "/" + link)
        try files.createSymbolicLink(atPath: folder + "/" + link, withDestinationPath: outside + "/escaped-link.json")

        let depth = folder.split(separator: "/").count
        let attempts: [(path: String, escape: String?)] = [
            ("../../etc/passwd", URL(fileURLWithPath: folder + "/../../etc/passwd").standardizedFileURL.path),
            ("/etc/passwd", "/etc/passwd"),
            (
                String(repeating: "../", count: depth) + outside.dropFirst() + "/escaped-relative.json",
                outside + "/escaped-relative.json"
            ),
            (outside + "/escaped-absolute.json", outside + "/escaped-absolute.json"),
            (link, outside + "/escaped-link.json"),
            ("attack-10-nul-\(tag)\u{0}.json", nil),
            ("attack-10-newline-\(tag)\n.json", nil),
        ]
        made += ["attack-10-nul-\(tag)", "attack-10-nul-\(tag)\u{0}.json", "attack-10-newline-\(tag)\n.json"].map {
            folder + "/" + $0
        }
        for attempt in attempts {
            let before = attempt.escape.flatMap { files.contents(atPath: $0) }
            let response = try await target.export(type: record.type, id: record.id, to: attempt.path, as: session)
            var escaped = false
            if let escape = attempt.escape {
                let after = files.contents(atPath: escape)
                escaped = after != before
                if before == nil, after != nil { try? files.removeItem(atPath: escape) }
            }
            probe.note(
                "export \(record.id) to \(attempt.path.debugDescription)",
                response.description + (escaped ? "; wrote \(attempt.escape ?? "")" : ""),
                breached: escaped || response.isAllowed)
        }
        return nil
    }
}
