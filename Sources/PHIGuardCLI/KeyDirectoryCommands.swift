import ArgumentParser
import PHIGuardKeys

extension KeysCommand {
    /// `phiguard keys init --dir DIR`: a new key directory with every key PHIGuard needs.
    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a key directory (0700) holding every key PHIGuard needs (key bytes never printed).",
            discussion: """
                Files: field.keys, index.keys, chain.key, signing.key, signing.pub, digest.key and backup.key (0600 each;
                signing.pub 0644). Refuses to overwrite any key
                (exit 73). Prints the file names and public fingerprints only. See the DocC article "Keys".
                """)

        @Option(help: "The key directory (created if missing; must be yours and not group/world writable).")
        var dir: String
        @OptionGroup var format: OutputOptions

        struct Report: Encodable {
            var directory: String
            var files: [String]
        }

        func run() async throws {
            let keys: KeyDirectory
            do { keys = try KeyDirectory.create(at: dir) } catch {
                if case .exists = error { try fail(error.description, CLIExit.cannotCreate) }
                try fail("\(error.description); fix: \(error.fix)", CLIExit.dataError)
            }
            let files = KeyKind.allCases.map { keys.filePath($0) } + [keys.path + "/" + KeyDirectory.publicKeyFileName]
            format.emit(Report(directory: keys.path, files: files), text: files.joined(separator: "\n"))
        }
    }

    /// `phiguard keys check --dir DIR`: every check of the key directory, without printing a key.
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a key directory: owner, modes, symbolic links, and that every key loads.",
            discussion: "Exit status: 0 every key loads, 65 a problem (each printed with the file and the fix).")

        @Option(help: "The key directory.")
        var dir: String
        @OptionGroup var format: OutputOptions

        struct Problem: Encodable {
            var file: String
            var problem: String
            var fix: String
        }

        func run() async throws {
            let problems = KeyDirectory(path: dir).problems().map {
                Problem(file: $0.subject, problem: $0.problem, fix: $0.fix)
            }
            format.emit(
                problems,
                text: problems.isEmpty
                    ? "\(dir): every key loads"
                    : problems.map { "\($0.file): \($0.problem)\n  fix: \($0.fix)" }.joined(separator: "\n"))
            if !problems.isEmpty { throw CLIExit.dataError }
        }
    }
}
