import ArgumentParser
import Foundation
import PHIGuardCrypto
import PHIGuardPasswords
import PHIGuardTOTP
import PHIGuardTOTPQRCode
import PortalCore

#if canImport(Glibc)
    import Glibc
#endif

extension PortalInput {
    /// One password line straight into guarded memory (`PasswordSecret.readLine`: one `read(2)` per
    /// byte, so the next line stays for the next reader), prompted with echo off on a terminal.
    static func password(_ prompt: String) throws -> PasswordSecret {
        guard let secret = try PasswordSecret.readLine(prompt: prompt) else { throw PortalError.missingInput }
        return secret
    }

    /// One short line (a recovery link) read one `read(2)` byte at a time, like ``password(_:)``, so
    /// a password line after it is still there for `PasswordSecret.readLine`. Echo off on a terminal.
    static func unbufferedLine(_ prompt: String, maximumBytes: Int = 256) throws -> String {
        if isatty(STDIN_FILENO) == 1 { FileHandle.standardError.write(Data(prompt.utf8)) }
        var bytes: [UInt8] = []
        defer { Sodium.zero(&bytes) }
        var byte: UInt8 = 0
        while bytes.count <= maximumBytes {
            let got = read(STDIN_FILENO, &byte, 1)
            if got < 0, errno == EINTR { continue }
            if got <= 0 || byte == 0x0A { break }
            bytes.append(byte)
        }
        if bytes.last == 0x0D { bytes.removeLast() }
        guard !bytes.isEmpty, bytes.count <= maximumBytes, let text = String(validating: bytes, as: UTF8.self) else {
            throw PortalError.missingInput
        }
        return text.trimmingCharacters(in: .whitespaces)
    }
}

extension StaffCommand {
    /// `staff add LOGIN --role R …` (admins).
    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a staff account: a temporary password and a TOTP authenticator, shown once.",
            discussion: """
                Staff always have a second factor: hand the staff member the temporary password and let \
                them scan the QR code (or type the otpauth:// URI) into their authenticator app. Sign-in \
                then asks for its code; they replace the password with `password change`.
                """)

        @OptionGroup var options: PortalOptions
        @Argument(help: "The new account's login name.")
        var login: String
        @Option(name: .customLong("role"), help: "A role (repeat for several): physician, nurse, charge-nurse, …")
        var roles: [String] = []

        func run() async throws {
            try await PortalRunner.run(options) { context in
                let created = try await context.portal.addStaff(
                    token: context.token, loginName: login, roles: roles)
                print("Staff account \(created.loginName) created: \(created.roles.joined(separator: ", ")).")
                print("Temporary password (shown once): \(created.temporaryPassword)")
                print("Authenticator (shown once; scan the QR code or enter the URI):")
                print(try created.enrollment.uri.revealString())
                print(try created.enrollment.terminalQRCode().render())
            }
        }
    }
}

/// `mfa enroll|confirm|recovery-codes`: the second factor and its backup.
struct MFACommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mfa",
        abstract: "Second factor: enrol a TOTP authenticator (`enroll`, then `confirm CODE`) and recovery codes.",
        subcommands: [Enroll.self, Confirm.self, RecoveryCodes.self])

    /// `mfa recovery-codes`: a new set of single-use codes (the old set stops working).
    struct RecoveryCodes: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "recovery-codes",
            abstract: "Issue 10 single-use recovery codes (shown once; the earlier set stops working).",
            discussion: "Needs a session signed in with the second factor. `login` accepts a code instead of TOTP.")

        @OptionGroup var options: PortalOptions

        func run() async throws {
            try await PortalRunner.run(options) { context in
                let codes = try await context.portal.newRecoveryCodes(token: context.token)
                print("Recovery codes (each works once instead of an authenticator code; store them offline):")
                for code in codes { print("  \(code)") }
            }
        }
    }
}

/// `password change|recover|reset`.
struct PasswordCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "password", abstract: "Change your password, or recover a forgotten one.",
        subcommands: [Change.self, Recover.self, Reset.self])

    /// `password change`: current password (line 1), new password (line 2).
    struct Change: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change your password (current on line 1, new on line 2); your other sessions end.")

        @OptionGroup var options: PortalOptions

        func run() async throws {
            try await PortalRunner.run(options, creating: false) {
                (try PortalInput.password("Current password: "), try PortalInput.password("New password: "))
            } _: { context, passwords in
                let token = try await context.portal.changePassword(
                    token: context.token, current: passwords.0, new: passwords.1)
                try context.sessionFile.write(token)
                print("Password changed. Your other sessions were ended; this one continues.")
            }
        }
    }

    /// `password recover --user NAME`: the same answer for every name.
    struct Recover: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ask for a recovery link (sent out of band; the answer is the same for every name).",
            discussion: """
                DEMO ONLY: there is no e-mail here, so the link is written to the outbox file \
                (--outbox, mode 0600) as a mail server would receive it. Use it with `password reset`.
                """)

        @OptionGroup var options: PortalOptions
        @Option(help: "The login name.")
        var user: String
        @Option(help: "DEMO ONLY: the file standing in for the recovery e-mail (default <database>.outbox).")
        var outbox: String?

        func run() async throws {
            let path = outbox ?? options.database + ".outbox"
            try await PortalRunner.run(options) { context in
                try await context.portal.requestPasswordRecovery(loginName: user) { message in
                    var bytes = Array(
                        "account: \(message.accountID)\nlink: \(message.link)\nexpires: \(message.expiresAt.formatted(.iso8601))\n"
                            .utf8)
                    defer { Sodium.zero(&bytes) }
                    try PrivateFile.write(bytes, to: path, replacing: true)
                }
                print("If an account has that name, a recovery link was sent to its owner.")
            }
        }
    }

    /// `password reset`: the link (line 1) and a new password (line 2).
    struct Reset: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a new password with a recovery link (line 1) and the new password (line 2).",
            discussion: "Every session of the account ends; sign in afterwards, second factor and all.")

        @OptionGroup var options: PortalOptions

        func run() async throws {
            try await PortalRunner.run(options, creating: false) {
                (try PortalInput.unbufferedLine("Recovery link: "), try PortalInput.password("New password: "))
            } _: { context, input in
                try await context.portal.completeRecovery(link: input.0, newPassword: input.1)
                print("Password set. Sign in with `PatientPortal login`.")
            }
        }
    }
}
