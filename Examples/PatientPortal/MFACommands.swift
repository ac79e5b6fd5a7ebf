import ArgumentParser
import Foundation
import PHIGuardCrypto
import PHIGuardTOTP
import PHIGuardTOTPQRCode
import PortalCore

#if canImport(Glibc)
    import Glibc
#endif

/// The authenticator between `mfa enroll` and `mfa confirm`: its otpauth URI in a private file beside
/// the session file (`<session-file>.mfa-pending`, mode 0600 from the start, never a link), the
/// same protection as the session token next to it. Nothing is in the database until the code is
/// confirmed; a confirmed (or abandoned and re-started) enrolment replaces or deletes the file.
struct PendingEnrollmentFile {
    let path: String

    init(sessionFile: PortalSessionFile) { path = sessionFile.path + ".mfa-pending" }

    /// Stores `enrollment`'s URI (replacing an earlier pending one).
    func write(_ enrollment: TOTPEnrollment) throws {
        var bytes = Array((try enrollment.uri.revealString() + "\n").utf8)
        defer { Sodium.zero(&bytes) }
        do { try PrivateFile.write(bytes, to: path, replacing: true) } catch {
            throw PortalError.sessionFileUnusable
        }
    }

    /// The pending enrolment; ``PortalError/invalidInput(_:)`` when there is none (run `mfa enroll` first).
    func read() throws -> TOTPEnrollment {
        var bytes: [UInt8]
        do { bytes = try PrivateFile.read(path, maximumByteCount: OTPAuthURI.maximumLength + 1) } catch {
            if case .notFound = error { throw PortalError.invalidInput("no pending enrolment") }
            throw PortalError.sessionFileUnusable
        }
        defer { Sodium.zero(&bytes) }
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let uri = try? OTPAuthURI(parsing: text), let enrollment = try? TOTPEnrollment(pending: uri) else {
            throw PortalError.invalidInput("pending enrolment")
        }
        return enrollment
    }

    func remove() { unlink(path) }
}

extension MFACommand {
    /// `mfa enroll`: a new authenticator for the signed-in account, shown as a URI and a QR code.
    struct Enroll: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start enrolling a TOTP authenticator: shows its QR code; `mfa confirm CODE` finishes.",
            discussion: """
                Works from a password-only session (a staff account without an authenticator reaches no \
                PHI until it has one). Replacing an existing authenticator needs a session signed in with \
                it. The pending secret waits in `<session-file>.mfa-pending` (mode 0600) until confirmed; \
                then sign in again with a code to get a two-factor session.
                """)

        @OptionGroup var options: PortalOptions

        func run() async throws {
            try await PortalRunner.run(options) { context in
                let enrollment = try await context.portal.beginSecondFactorEnrollment(token: context.token)
                try PendingEnrollmentFile(sessionFile: context.sessionFile).write(enrollment)
                print("Scan the QR code (or enter the URI) in your authenticator app, then run `mfa confirm CODE`:")
                print(try enrollment.uri.revealString())
                print(try enrollment.terminalQRCode().render())
            }
        }
    }

    /// `mfa confirm CODE`: stores the pending authenticator once its code checks out.
    struct Confirm: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Finish `mfa enroll` with a code from the authenticator app (asked for when omitted).",
            discussion: "The code is spent: it cannot also sign in. Sign in again (`login`) with the next code.")

        @OptionGroup var options: PortalOptions
        @Argument(help: "The authenticator app's current code.")
        var code: String?

        func run() async throws {
            try await PortalRunner.run(options, creating: false, input: { try code ?? PortalInput.line("Code: ") }) {
                context, code in
                let pending = PendingEnrollmentFile(sessionFile: context.sessionFile)
                try await context.portal.confirmSecondFactorEnrollment(
                    token: context.token, pending: try pending.read(), code: code)
                pending.remove()
                print("Authenticator enrolled. Sign in again with a code to use it (`login`).")
            }
        }
    }
}
