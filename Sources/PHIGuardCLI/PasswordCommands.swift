import ArgumentParser
import Foundation
import PHIGuardPasswords

/// `phiguard password …`: Argon2id hashes in PHC format.
struct PasswordCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "password",
        abstract: "Hash and verify passwords with Argon2id (PHC strings).",
        discussion: "The password is read from standard input, or prompted for without echo; never from arguments.",
        subcommands: [Hash.self, Verify.self]
    )

    /// The cost options shared by `hash` and `verify` (verify uses them as the current policy).
    struct CostOptions: ParsableArguments {
        @Option(help: "Parameter preset: owasp (m=19456,t=2,p=1) or rfc9106-low-memory (m=65536,t=3,p=4).")
        var preset: Preset = .owasp
        @Option(name: .customLong("memory-kib"), help: "Memory cost in KiB (overrides the preset).")
        var memoryKiB: UInt32?
        @Option(help: "Iterations (overrides the preset).")
        var iterations: UInt32?
        @Option(help: "Parallelism (overrides the preset).")
        var parallelism: UInt32?

        enum Preset: String, ExpressibleByArgument, CaseIterable {
            case owasp
            case rfc9106LowMemory = "rfc9106-low-memory"
        }

        func parameters() throws -> Argon2Parameters {
            let base: Argon2Parameters = preset == .owasp ? .owaspMinimum : .rfc9106LowMemory
            do {
                return try Argon2Parameters(
                    memoryKiB: memoryKiB ?? base.memoryKiB, iterations: iterations ?? base.iterations,
                    parallelism: parallelism ?? base.parallelism)
            } catch {
                throw ValidationError(error.description)
            }
        }
    }

    struct Hash: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the Argon2id PHC string of the password read from standard input.")

        @OptionGroup var cost: CostOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let hasher = try PasswordHasher(configuration: .init(parameters: try cost.parameters()))
            let password = try SecretInput.readPassword(prompt: "Password: ")
            do {
                let encoded = try await hasher.hash(secret: password)
                output.emit(["hash": encoded], text: encoded)
            } catch {
                try fail(error.description, error.isInputError ? CLIExit.dataError : CLIExit.internalError)
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the password read from standard input against a PHC string.",
            discussion: """
                Exit status: 0 valid, 1 invalid, 3 valid but the hash should be replaced (weaker parameters,
                argon2i/argon2d, version 16, or another pepper), 65 malformed hash or password.
                """)

        @Option(name: .customLong("hash"), help: "The stored PHC string ($argon2id$v=19$...).")
        var storedHash: String
        @OptionGroup var cost: CostOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let hasher = try PasswordHasher(configuration: .init(parameters: try cost.parameters()))
            let password = try SecretInput.readPassword(prompt: "Password: ")
            let result: PasswordVerification
            do {
                result = try await hasher.verify(secret: password, against: storedHash)
            } catch {
                try fail(error.description, error.isInputError ? CLIExit.dataError : CLIExit.internalError)
            }
            switch result {
            case .valid:
                output.emit(VerifyReport(result: "valid", rehashReasons: []), text: "valid")
            case .validNeedsRehash(let reasons):
                let names = reasons.map(\.rawValue).sorted()
                output.emit(
                    VerifyReport(result: "valid-needs-rehash", rehashReasons: names),
                    text: "valid, needs rehash (\(names.joined(separator: ", ")))")
                throw CLIExit.needsRehash
            case .invalid:
                output.emit(VerifyReport(result: "invalid", rehashReasons: []), text: "invalid")
                throw CLIExit.negative
            }
        }
    }

    struct VerifyReport: Encodable {
        var result: String
        var rehashReasons: [String]
    }
}

extension PasswordHashingError {
    /// Errors caused by the input (exit 65) rather than the machine (exit 70).
    var isInputError: Bool {
        switch self {
        case .emptyPassword, .passwordTooLong, .invalidParameters, .malformedHash, .unknownPepper, .invalidPepper,
            .invalidEncoding:
            true
        case .overloaded, .cancelled, .argon2Failure, .secureMemoryFailure:
            false
        }
    }
}
