import Foundation
import PHIGuardPasswords

extension SecretInput {
    /// Reads a password straight into guarded memory (`PasswordSecret.readLine`, one `read(2)` per
    /// byte from standard input): no `String`, array or stdio buffer holds it. From a terminal it
    /// prompts on standard error with echo off.
    static func readPassword(prompt: String) throws -> PasswordSecret {
        let password: PasswordSecret?
        do { password = try PasswordSecret.readLine(prompt: prompt) } catch {
            if case .secureMemoryFailure = error { try fail(error.description, CLIExit.internalError) }
            try fail(error.description, CLIExit.dataError)
        }
        guard let password else { try fail("no input", CLIExit.dataError) }
        return password
    }
}
