import Foundation
import PHIGuardPasswords

extension SecretInput {
    /// Reads a password straight into guarded memory (`PasswordSecret.readLine`, one `read(2)` per
    /// byte from standard input): no `String`, array or stdio buffer holds it. From a terminal it
    /// prompts on standard error with echo off.
    static func readPassword(prompt: String) throws -> PasswordSecret {
        let terminal = isatty(STDIN_FILENO) == 1
        var original = termios()
        if terminal {
            FileHandle.standardError.write(Data(prompt.utf8))
            tcgetattr(STDIN_FILENO, &original)
            var silent = original
            silent.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        }
        defer {
            if terminal {
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &original)
                FileHandle.standardError.write(Data("\n".utf8))
            }
        }
        let password: PasswordSecret?
        do { password = try PasswordSecret.readLine(from: STDIN_FILENO) } catch {
            if case .secureMemoryFailure = error { try fail(error.description, CLIExit.internalError) }
            try fail(error.description, CLIExit.dataError)
        }
        guard let password else { try fail("no input", CLIExit.dataError) }
        return password
    }
}
