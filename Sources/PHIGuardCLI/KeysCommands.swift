import ArgumentParser
import Foundation
import PHIGuardAudit  // for the package clock, which it re-exports
import PHIGuardFieldEncryption

/// `phiguard keys …`: field-encryption key files (generate, rotate, inspect). Key bytes are never printed.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create, rotate and inspect field-encryption key files (0600; key bytes never printed).",
        discussion: """
            Exit status: 0 success, 65 malformed or insecure key file (not 0600), 66 key file missing or
            unreadable, 70 internal error, 73 output file already exists. See Documentation/CLI-keys.md.
            """,
        subcommands: [Generate.self, Rotate.self, Inspect.self, Init.self, Check.self]
    )

    struct KeyReport: Encodable {
        var id: String
        var status: String
        var fingerprint: String
    }

    struct FileReport: Encodable {
        var file: String
        var activeKeyID: String
        var keys: [KeyReport]
    }

    static func report(_ keyring: Keyring, file: String) -> FileReport {
        FileReport(
            file: file, activeKeyID: keyring.activeKeyID,
            keys: keyring.keys.map { key in
                KeyReport(
                    id: key.id, status: key.id == keyring.activeKeyID ? "active" : "retired",
                    fingerprint: key.fingerprint)
            } + keyring.revokedKeyIDs.sorted().map { KeyReport(id: $0, status: "revoked", fingerprint: "") })
    }

    static func text(_ report: FileReport) -> String {
        ([report.file]
            + report.keys.map { key in
                "  \(key.status.padding(toLength: 8, withPad: " ", startingAt: 0)) \(key.id)"
                    + (key.fingerprint.isEmpty ? "" : "  fingerprint \(key.fingerprint)")
            }).joined(separator: "\n")
    }

    /// A default key id from the current UTC time, e.g. `k-20261123-081500`.
    static func defaultKeyID() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "'k-'yyyyMMdd'-'HHmmss"
        return formatter.string(from: SystemClock().now)
    }

    static func load(_ path: String) throws -> Keyring {
        do {
            return try KeyFileProvider(path: path).keyring()
        } catch {
            switch error {
            case .fileNotFound, .unreadable: try fail(error.description, CLIExit.noInput)
            default: try fail(error.description, CLIExit.dataError)
            }
        }
    }

    static func newKey(id: String?) throws -> FieldKey {
        let id = id ?? defaultKeyID()
        guard FieldKey.isValidKeyID(id) else {
            throw ValidationError("--id must be 1-32 characters of A-Z a-z 0-9 . _ -")
        }
        do { return try FieldKey.generate(id: id) } catch { try fail(error.description, CLIExit.internalError) }
    }

    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a new key file (mode 0600) holding one random 32-byte active root key.",
            discussion: "Refuses to overwrite an existing file (exit 73). Prints the key id and fingerprint only.")

        @Option(name: .customLong("out"), help: "The key file to create.")
        var output: String
        @Option(help: "The key id (1-32 of A-Z a-z 0-9 . _ -). Default: k-YYYYMMDD-HHMMSS (UTC).")
        var id: String?
        @OptionGroup var format: OutputOptions

        func run() async throws {
            let keyring: Keyring
            do { keyring = try Keyring(active: try KeysCommand.newKey(id: id)) } catch let error as FieldEncryptionError
            {
                try fail(error.description, CLIExit.internalError)
            }
            do {
                try KeyringFile.write(keyring, to: output)
            } catch {
                if case .fileExists = error { try fail(error.description, CLIExit.cannotCreate) }
                try fail(error.description, CLIExit.internalError)
            }
            let report = KeysCommand.report(keyring, file: output)
            format.emit(report, text: KeysCommand.text(report))
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a new active key to a key file; the current active key becomes retired.",
            discussion: """
                The file is rewritten atomically (mode 0600). Existing envelopes keep decrypting with the retired
                key; re-encrypt them with ReencryptionJob, then revoke the old key with --revoke.
                """)

        @Argument(help: "The key file.")
        var file: String
        @Option(help: "The new key's id. Default: k-YYYYMMDD-HHMMSS (UTC).")
        var id: String?
        @Option(help: "Instead of adding a key, drop retired key ID and mark it revoked.")
        var revoke: String?
        @OptionGroup var format: OutputOptions

        func run() async throws {
            let current = try KeysCommand.load(file)
            let updated: Keyring
            do {
                if let revoke {
                    updated = try current.revoking(revoke)
                } else {
                    updated = try current.rotated(to: try KeysCommand.newKey(id: id))
                }
            } catch let error as FieldEncryptionError {
                try fail(error.description, CLIExit.dataError)
            }
            do { try KeyringFile.write(updated, to: file, replacing: true) } catch {
                try fail(error.description, CLIExit.internalError)
            }
            let report = KeysCommand.report(updated, file: file)
            format.emit(report, text: KeysCommand.text(report))
        }
    }

    struct Inspect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List a key file's key ids, status and fingerprints (never key bytes).",
            discussion: "Checks the file's permissions first: anything but 0600/0400 is refused (exit 65).")

        @Argument(help: "The key file.")
        var file: String
        @OptionGroup var format: OutputOptions

        func run() async throws {
            let report = KeysCommand.report(try KeysCommand.load(file), file: file)
            format.emit(report, text: KeysCommand.text(report))
        }
    }
}
