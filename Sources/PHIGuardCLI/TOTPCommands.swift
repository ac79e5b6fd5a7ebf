import ArgumentParser
import Foundation
import PHIGuardCrypto
import PHIGuardTOTP
import PHIGuardTOTPQRCode

/// `phiguard totp …`: TOTP enrolment, verification and recovery codes (Documentation/CLI-totp.md).
struct TOTPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "totp",
        abstract: "Enrol and verify TOTP second factors; generate recovery codes.",
        discussion: """
            Secrets are read from a file (or standard input with --secret-file -), codes from standard input
            or a no-echo prompt; neither is ever taken from the command line.
            """,
        subcommands: [Enroll.self, Verify.self, Code.self, RecoveryCodes.self]
    )

    /// The algorithm, digits and period shared by the subcommands.
    struct ConfigurationOptions: ParsableArguments {
        @Option(help: "HMAC algorithm: sha1, sha256 or sha512.")
        var algorithm: AlgorithmName = .sha1
        @Option(help: "Digits in a code: 6, 7 or 8.")
        var digits: Int = 6
        @Option(help: "Time step in seconds (1-3600).")
        var period: Int = 30

        enum AlgorithmName: String, ExpressibleByArgument, CaseIterable {
            case sha1, sha256, sha512
            var algorithm: OTPAlgorithm {
                switch self {
                case .sha1: .sha1
                case .sha256: .sha256
                case .sha512: .sha512
                }
            }
        }

        func configuration() throws -> TOTPConfiguration {
            guard let digits = OTPDigits(rawValue: digits) else { throw ValidationError("--digits must be 6, 7 or 8") }
            do {
                return try TOTPConfiguration(algorithm: algorithm.algorithm, digits: digits, period: period)
            } catch {
                throw ValidationError(error.description)
            }
        }
    }

    /// Where the secret comes from: a file holding Base32 or an otpauth:// URI, or standard input.
    struct SecretOptions: ParsableArguments {
        @Option(
            name: .customLong("secret-file"),
            help: "File with the Base32 secret or an otpauth:// URI ('-': the first line of standard input).")
        var secretFile: String
        @OptionGroup var configuration: ConfigurationOptions

        /// The TOTP credential. A URI's own algorithm, digits and period win over the options.
        func load() throws -> TOTP {
            let text: String
            if secretFile == "-" {
                text = try SecretInput.read(prompt: "TOTP secret (Base32 or otpauth URI): ")
            } else {
                guard let handle = FileHandle(forReadingAtPath: secretFile) else {
                    try fail("cannot read secret file \(secretFile)", CLIExit.noInput)
                }
                defer { try? handle.close() }
                let data = (try? handle.read(upToCount: 64 * 1024 + 1)) ?? Data()
                guard data.count <= 64 * 1024 else { try fail("secret file is too large", CLIExit.dataError) }
                guard let decoded = String(data: data, encoding: .utf8) else {
                    try fail("secret file is not UTF-8", CLIExit.dataError)
                }
                text = decoded
            }
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            do {
                if trimmed.lowercased().hasPrefix("otpauth:") { return try OTPAuthURI(parsing: trimmed).totp }
                return TOTP(secret: try TOTPSecret(base32: trimmed), configuration: try configuration.configuration())
            } catch let error as TOTPError {
                try fail(error.description, CLIExit.dataError)
            }
        }
    }

    /// `--time`: the Unix time to use instead of now (for tests and for checking a device's clock).
    struct TimeOptions: ParsableArguments {
        @Option(help: "Unix time in seconds (0 to 9223372036854775807) to use instead of the current time.")
        var time: Int64?

        /// The time as exact integer seconds: `--time`, or the system clock's whole seconds.
        var unixSeconds: Int64 { time ?? SystemClock().wallClockSeconds() }

        func validate() throws {
            if let time, time < 0 { throw ValidationError("--time must be 0 or later (Unix seconds)") }
        }
    }

    struct Enroll: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a TOTP secret and print its otpauth:// URI and a QR code to scan.",
            discussion: """
                The URI and the QR code contain the secret: show them to the user only. With --secret-out the
                Base32 secret is also written to a new file (mode 0600) for a later 'totp verify'.
                """)

        @Option(help: "The service name shown in the authenticator app (no colon).")
        var issuer: String?
        @Option(help: "The account name, for example an e-mail address (no colon).")
        var account: String
        @Option(help: "Secret size in bits (a multiple of 8, at least 128).")
        var bits: Int = TOTPSecret.defaultBitCount
        @Option(name: .customLong("secret-out"), help: "Write the Base32 secret to this new file (mode 0600).")
        var secretOut: String?
        @Option(name: .customLong("qr"), help: "QR style: ansi, half-blocks, half-blocks-inverted or none.")
        var qrStyle: QRStyle = .ansi
        @OptionGroup var configuration: ConfigurationOptions
        @OptionGroup var output: OutputOptions

        enum QRStyle: String, ExpressibleByArgument, CaseIterable {
            case ansi, none
            case halfBlocks = "half-blocks"
            case halfBlocksInverted = "half-blocks-inverted"
        }

        func run() async throws {
            let enrollment: TOTPEnrollment
            let uri: String
            do {
                enrollment = try TOTPEnrollment(
                    issuer: issuer, accountName: account, configuration: try configuration.configuration(),
                    secretBitCount: bits)
                uri = try enrollment.uri.revealString()
            } catch let error as TOTPError {
                try fail(error.description, CLIExit.dataError)
            }
            if let secretOut {
                try writeNewPrivateFile(secretOut, contents: enrollment.totp.secret.revealBase32() + "\n")
            }
            var qrText = ""
            let style: TerminalQRCode.Style? =
                switch qrStyle {
                case .ansi: .ansi
                case .halfBlocks: .halfBlocks
                case .halfBlocksInverted: .halfBlocksInverted
                case .none: nil
                }
            if let style, !output.json {
                do {
                    qrText = try enrollment.terminalQRCode().render(style: style)
                } catch {
                    try fail(error.description, CLIExit.internalError)
                }
            }
            output.emit(["uri": uri], text: qrText + uri)
        }

        /// Writes the secret to a new 0600 file (never through a link, never over an existing file).
        private func writeNewPrivateFile(_ path: String, contents: String) throws {
            var bytes = Array(contents.utf8)
            defer { Sodium.zero(&bytes) }
            do {
                try PrivateFile.write(bytes, to: path)
            } catch {
                switch error {
                case .exists: try fail("cannot create \(path) (it must not exist yet)", CLIExit.noInput)
                default: try fail("cannot create \(path): \(error)", CLIExit.noInput)
                }
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a TOTP code read from standard input (or a no-echo prompt).",
            discussion: """
                Exit status: 0 valid (prints the matched step), 1 invalid or replayed (the code's step is at or
                before --last-step), 64 usage error (--window outside 0-10, negative --time), 65 malformed
                secret, URI or code, 66 secret file missing or unreadable.
                """)

        @OptionGroup var secret: SecretOptions
        @Option(help: "Accept codes this many steps before and after the current one (0-10).")
        var window: Int = 1
        @Option(
            name: .customLong("last-step"), help: "The last step accepted for this account: refuse it and earlier ones."
        )
        var lastStep: UInt64?
        @OptionGroup var time: TimeOptions
        @OptionGroup var output: OutputOptions

        /// An out-of-range `--window` is a usage error (64), like every other option value out of range.
        func validate() throws {
            guard TOTP.allowedWindows.contains(window) else {
                throw ValidationError(
                    "--window must be \(TOTP.allowedWindows.lowerBound)-\(TOTP.allowedWindows.upperBound)")
            }
        }

        func run() async throws {
            let totp = try secret.load()
            let code = try SecretInput.read(prompt: "Code: ")
            let match: TOTPMatch
            do {
                match = try totp.verify(code, unixSeconds: time.unixSeconds, window: window, after: lastStep)
            } catch {
                try fail(error.description, CLIExit.dataError)
            }
            switch match {
            case .accepted(let step):
                output.emit(VerifyReport(result: "valid", step: step), text: "valid (step \(step))")
            case .replayed:
                output.emit(VerifyReport(result: "replayed", step: nil), text: "replayed")
                throw CLIExit.negative
            case .invalid:
                output.emit(VerifyReport(result: "invalid", step: nil), text: "invalid")
                throw CLIExit.negative
            }
        }
    }

    struct VerifyReport: Encodable {
        var result: String
        var step: UInt64?
    }

    struct Code: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the code a correctly set-up authenticator shows now (for support and testing).",
            discussion: "Exit status: 0 printed, 65 malformed secret or URI, 66 secret file missing or unreadable.")

        @OptionGroup var secret: SecretOptions
        @OptionGroup var time: TimeOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let totp = try secret.load()
            do {
                let step = try totp.timeStep(unixSeconds: time.unixSeconds)
                let code = totp.code(forStep: step)
                output.emit(CodeReport(code: code, step: step), text: code)
            } catch {
                try fail(error.description, CLIExit.dataError)
            }
        }
    }

    struct CodeReport: Encodable {
        var code: String
        var step: UInt64
    }

    struct RecoveryCodes: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "recovery-codes",
            abstract: "Generate single-use recovery codes and the hashes to store.",
            discussion: """
                Prints each code (show it to the user once) with its hash (store only the hash). With --key-file
                the hashes are keyed with the file's bytes (16-64 bytes). Exit status: 0, 65 bad key or count,
                66 key file missing or unreadable.
                """)

        @Option(help: "How many codes (1-100).")
        var count: Int = RecoveryCodeHasher.defaultCount
        @Option(name: .customLong("key-file"), help: "A file of 16-64 raw bytes that keys the hashes.")
        var keyFile: String?
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let hasher: RecoveryCodeHasher
            let codes: [RecoveryCode]
            do {
                if let keyFile {
                    guard let key = FileManager.default.contents(atPath: keyFile) else {
                        try fail("cannot read key file \(keyFile)", CLIExit.noInput)
                    }
                    hasher = try RecoveryCodeHasher(key: Array(key))
                } else {
                    hasher = RecoveryCodeHasher()
                }
                codes = try hasher.generate(count: count)
            } catch let error as RecoveryCodeError {
                try fail(error.description, CLIExit.dataError)
            }
            if output.json {
                print(jsonLine(codes.map { ["code": $0.reveal(), "hash": $0.hash.encoded] }))
            } else {
                for code in codes { print("\(code.reveal())  \(code.hash.encoded)") }
            }
        }
    }
}
