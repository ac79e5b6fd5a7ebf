import ArgumentParser
import Foundation
import PortalCore

/// `notes PATIENT` and `notes add PATIENT --label L` (the text on stdin).
struct NotesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notes", abstract: "Clinical notes: list those the policy lets you see, or write one.",
        subcommands: [List.self, Add.self], defaultSubcommand: List.self)

    /// `notes [list] PATIENT`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The notes of a patient you may see, newest first (labelled notes only if the policy allows).")

        @OptionGroup var options: PortalOptions
        @Argument(help: "The patient id.")
        var patient: String

        func run() async throws {
            try await PortalRunner.run(options) { context in
                let notes = try await context.portal.notes(token: context.token, patientID: patient)
                NotesOutput.print(notes, kind: "notes", patient: patient)
            }
        }
    }

    /// `notes add PATIENT [--label L]`.
    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a note (the text is stdin, up to 8 KiB); the policy decides who may.")

        @OptionGroup var options: PortalOptions
        @Argument(help: "The patient id.")
        var patient: String
        @Option(help: "A sensitivity label of the policy (psychotherapy, substance-use, hiv, reproductive-health).")
        var label: String?

        func run() async throws {
            try await PortalRunner.run(options, creating: false) {
                try NotesOutput.readText()
            } _: { context, text in
                let id = try await context.portal.addNote(
                    token: context.token, patientID: patient, label: label, text: text)
                print("Note \(id) added for \(patient)\(label.map { " (label \($0))" } ?? "").")
            }
        }
    }
}

/// `messages [PATIENT]` and `messages send [PATIENT]` (the text on stdin).
struct MessagesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "messages", abstract: "Messages between a patient and their care team.",
        subcommands: [List.self, Send.self], defaultSubcommand: List.self)

    /// `messages [list] [PATIENT]`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The messages of a patient (default: the patient you are), newest first.")

        @OptionGroup var options: PortalOptions
        @Argument(help: "The patient id (default: the patient you are).")
        var patient: String?

        func run() async throws {
            try await PortalRunner.run(options) { context in
                let messages = try await context.portal.messages(token: context.token, patientID: patient)
                NotesOutput.print(messages, kind: "messages", patient: patient ?? "your own record")
            }
        }
    }

    /// `messages send [PATIENT]`.
    struct Send: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send a message (the text is stdin, up to 8 KiB) in a patient's thread (default: your own).")

        @OptionGroup var options: PortalOptions
        @Argument(help: "The patient id (default: the patient you are).")
        var patient: String?

        func run() async throws {
            try await PortalRunner.run(options, creating: false) {
                try NotesOutput.readText()
            } _: { context, text in
                let id = try await context.portal.sendMessage(token: context.token, patientID: patient, text: text)
                print("Message \(id) sent.")
            }
        }
    }
}

/// Reading note text and printing notes and messages.
enum NotesOutput {
    /// Standard input to its end: at most `Portal.maximumNoteLength` bytes of UTF-8, else refused.
    static func readText() throws -> String {
        if isatty(STDIN_FILENO) == 1 {
            FileHandle.standardError.write(Data("Text (end with Ctrl-D):\n".utf8))
        }
        var bytes: [UInt8] = []
        while bytes.count <= Portal.maximumNoteLength {
            let byte = getchar()
            if byte == EOF { break }
            bytes.append(UInt8(truncatingIfNeeded: byte))
        }
        guard bytes.count <= Portal.maximumNoteLength, let text = String(validating: bytes, as: UTF8.self) else {
            throw PortalError.invalidInput("text")
        }
        return text
    }

    /// One block per note: id, date, author, then the text.
    static func print(_ notes: [PortalNote], kind: String, patient: String) {
        Swift.print("\(notes.count) \(kind) of \(patient) you may see (newest first):")
        for note in notes {
            Swift.print("- \(note.id)  \(note.date ?? "-")  by \(note.author ?? "-")")
            for line in (note.body ?? "").split(separator: "\n", omittingEmptySubsequences: false) {
                Swift.print("    \(line)")
            }
        }
    }
}
