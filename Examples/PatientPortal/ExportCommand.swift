import ArgumentParser
import Foundation
import PortalCore

/// `export PATIENT --format fhir --output PATH`: a FHIR R4 Bundle of what you may see of a chart.
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a chart as a FHIR R4 Bundle (JSON): only the fields the policy lets you see.",
        discussion: """
            The file is created new (mode 0600) directly in the export folder: --output is a file name, or a \
            path whose folder is the export folder. A '..' component, another folder, a control character, \
            a symbolic link or an existing file is refused before anything is written. The read is the \
            guarded, audited chart read.
            """)

    @OptionGroup var options: PortalOptions
    @Argument(help: "The patient id.")
    var patient: String
    @Option(help: "The export format (fhir: a FHIR R4 Bundle in JSON).")
    var format: String = "fhir"
    @Option(help: "The file to create: a name in the export folder, or a path inside it.")
    var output: String
    @Option(name: .customLong("export-dir"), help: "The export folder (must exist).")
    var exportDirectory = "exports"

    func validate() throws {
        guard PortalExportFormat(rawValue: format) != nil else { throw ValidationError("--format must be fhir") }
    }

    func run() async throws {
        try await PortalRunner.run(options) { context in
            let export = try await context.portal.exportChart(
                token: context.token, patientID: patient, format: PortalExportFormat(rawValue: format) ?? .fhir,
                exportDirectory: exportDirectory, output: output)
            print(
                "Exported \(patient) to \(export.path): FHIR R4 Bundle of \(export.resourceTypes.joined(separator: ", "))"
            )
            print("Fields (the ones the policy lets you see): \(export.fields.joined(separator: ", "))")
            print(
                "Notes (DocumentReference): \(export.noteIDs.count); messages (Communication): \(export.messageIDs.count)"
                    + " (the ones you may read)")
        }
    }
}
