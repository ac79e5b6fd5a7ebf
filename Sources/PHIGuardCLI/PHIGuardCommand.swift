import ArgumentParser

/// `phiguard`: the admin CLI for operators and CI pipelines.
@main
struct PHIGuardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "phiguard",
        abstract: "Administer PHIGuard: password hashes, TOTP, policies, keys and audit logs.",
        discussion: """
            Exit codes: 0 success (valid, allowed, intact), 1 a negative answer (invalid, denied, broken),
            3 valid but the password hash needs rehashing, 64 usage error, 65 malformed input data,
            66 input file missing or unreadable, 70 internal error. See Documentation/CLI.md.
            """,
        subcommands: [
            PasswordCommand.self,
            TOTPCommand.self,
            KeysCommand.self,
            PolicyCommand.self,
            AuditCommand.self,
            BackupCommand.self,
            DoctorCommand.self,
        ]
    )
}
