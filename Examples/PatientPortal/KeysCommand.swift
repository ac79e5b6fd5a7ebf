import ArgumentParser
import Foundation
import PortalCore

/// `keys rotate`: re-encrypt every PHI field under a new field key (admins; resumable).
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Manage the portal's encryption keys (admins).", subcommands: [Rotate.self])

    /// `keys rotate [--batch-size N]`.
    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-encrypt every PHI field under a new field key, with a progress bar (admins).",
            discussion: """
                Adds a new active key to field.keys (the old one stays, retired) and moves every envelope of \
                the patient index and the charts to it with ReencryptionJob, checkpointing in the database \
                after each batch. Safe to interrupt at any point, even with kill -9: run it again and it \
                resumes the same rotation (it never starts a second one while one is unfinished). The same on \
                SQLite and PostgreSQL (--database-url), where the checkpoint row is shared by every instance. \
                Restart other running portal instances afterwards: until then they hold the old key, and a \
                field already under the new one is refused there (nothing is written).
                """)

        @OptionGroup var options: PortalOptions
        @Option(name: .customLong("batch-size"), help: "Fields re-encrypted between checkpoints (1-100000).")
        var batchSize = 200

        func validate() throws {
            guard (1...100_000).contains(batchSize) else { throw ValidationError("--batch-size must be 1-100000") }
        }

        func run() async throws {
            try await PortalRunner.run(options) { context in
                let terminal = isatty(STDERR_FILENO) == 1
                let result = try await context.portal.rotateKeys(token: context.token, batchSize: batchSize) {
                    FileHandle.standardError.write(Data(Self.bar($0, terminal: terminal).utf8))
                }
                print(
                    """
                    Key rotation \(result.resumed ? "resumed and " : "")complete: \(result.total) PHI fields under \
                    key \(result.activeKeyID) (\(result.rewritten) re-encrypted by this run).
                    Retired keys kept in \(options.keys)/field.keys (they still open TOTP secrets and \
                    break-glass justifications): \(result.retiredKeyIDs.joined(separator: ", ")).
                    Restart any other running portal instance so it loads the new key.
                    """)
            }
        }

        /// `Re-encrypting [#########...........]  45% 380/840 fields (key K)`: redrawn in place on a
        /// terminal, one line per batch otherwise.
        static func bar(_ progress: PortalKeyRotationProgress, terminal: Bool) -> String {
            let width = 30
            let fraction = progress.total == 0 ? 1 : Double(progress.done) / Double(progress.total)
            let filled = min(width, Int(fraction * Double(width)))
            let percent = String(Int(fraction * 100)).leftPadding(to: 3)
            let line =
                "Re-encrypting [\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))]"
                + " \(percent)% \(progress.done)/\(progress.total) fields (key \(progress.targetKeyID))"
            return line + (terminal && progress.done < progress.total ? "\r" : "\n")
        }
    }
}

extension String {
    fileprivate func leftPadding(to length: Int) -> String {
        count >= length ? self : String(repeating: " ", count: length - count) + self
    }
}
