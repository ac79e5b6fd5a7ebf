import Foundation
import PHIGuardTOTP
import PHIGuardTestSupport
import Testing

/// The built `PatientPortal`'s account commands end to end: `staff add`, `mfa recovery-codes`,
/// `password change|recover|reset`, on a real SQLite file.
@Suite("PatientPortal account commands, end to end", .serialized)
struct PatientPortalAccountTests {
    typealias Portal = PatientPortalTests.Portal

    @Test("staff add prints a temporary password, the otpauth URI and a QR code; the account signs in with TOTP")
    func staffAdd() throws {
        let portal = try Portal()
        defer { portal.remove() }
        #expect(try portal.signIn("dr.grey").status == 0)
        let refused = try portal.run(["staff", "add", "nurse.new", "--role", "nurse"])
        #expect(refused.status == 1, "\(refused.stderr)")
        #expect(refused.stdout.isEmpty)

        #expect(try portal.signIn("admin.al").status == 0)
        let added = try portal.run(["staff", "add", "nurse.new", "--role", "nurse", "--role", "charge-nurse"])
        #expect(added.status == 0, "\(added.stderr)")
        let password = try #require(added.stdout.firstMatch(of: /Temporary password \(shown once\): (\S+)\n/)?.1)
        let uriLine = try #require(added.stdout.split(separator: "\n").first { $0.hasPrefix("otpauth://totp/") })
        let totp = try OTPAuthURI(parsing: String(uriLine)).totp
        #expect(added.stdout.contains("▀") || added.stdout.contains("█"), "no QR code printed")
        #expect(try portal.run(["logout"]).status == 0)

        // Without the code: no session. With it: multi-factor, the roles given.
        let noCode = try portal.run(["login", "--user", "nurse.new"], input: password + "\n")
        #expect(noCode.status != 0)
        let login = try portal.run(
            ["login", "--user", "nurse.new"], input: password + "\n" + (try totp.code(at: Date())) + "\n")
        #expect(login.status == 0, "\(login.stderr)")
        #expect(login.stdout.contains("multi-factor"))
        #expect(login.stdout.contains("run `password change` now"), "\(login.stdout)")
        // The temporary password's session reaches nothing but the password change.
        let early = try portal.run(["whoami"])
        #expect(early.status == 1 && early.stdout.isEmpty, "\(early.stdout)")
        #expect(try portal.run(["patients"]).status == 1)

        // The temporary password is replaced; the old one stops working.
        let changed = try portal.run(["password", "change"], input: password + "\nQuartz-lantern-Meadow-5519-ochre\n")
        #expect(changed.status == 0, "\(changed.stderr)")
        let whoami = try portal.run(["whoami"])  // this session continues under a new token
        #expect(whoami.status == 0 && whoami.stdout.contains("roles: charge-nurse, nurse"), "\(whoami.stdout)")
        let old = try portal.run(["login", "--user", "nurse.new"], input: password + "\n000000\n")
        #expect(old.status == 3)
    }

    @Test(
        "mfa enroll|confirm: a password-only account enrols TOTP; the confirmation code is spent; login asks for TOTP")
    func mfaEnrollConfirm() throws {
        let portal = try Portal()
        defer { portal.remove() }
        let chosen = "Quartz-lantern-Meadow-5519-ochre"
        #expect(try portal.run(["register", "begin"]).status == 0)
        let registered = try portal.run(["register", "complete", "--user", "erin", "--no-totp"], input: chosen + "\n")
        #expect(registered.status == 0, "\(registered.stderr)")
        let passwordOnly = try portal.run(["login", "--user", "erin"], input: chosen + "\n")
        #expect(passwordOnly.status == 0 && passwordOnly.stdout.contains("single-factor"), "\(passwordOnly.stdout)")

        let enrolled = try portal.run(["mfa", "enroll"])
        #expect(enrolled.status == 0, "\(enrolled.stderr)")
        let uriLine = try #require(enrolled.stdout.split(separator: "\n").first { $0.hasPrefix("otpauth://totp/") })
        let totp = try OTPAuthURI(parsing: String(uriLine)).totp
        #expect(enrolled.stdout.contains("▀") || enrolled.stdout.contains("█"), "no QR code printed")
        let pending = portal.sessionFile + ".mfa-pending"
        let mode = try FileManager.default.attributesOfItem(atPath: pending)[.posixPermissions] as? Int
        #expect(mode == 0o600)

        #expect(try portal.run(["mfa", "confirm", "000000"]).status != 0)
        #expect(FileManager.default.fileExists(atPath: pending))  // kept for another try
        let confirmation = try totp.code(at: Date())
        let confirmed = try portal.run(["mfa", "confirm", confirmation])
        #expect(confirmed.status == 0, "\(confirmed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: pending))
        #expect(try portal.run(["logout"]).status == 0)

        // The password alone no longer signs in; the confirmation code is spent; the next code works.
        #expect(try portal.run(["login", "--user", "erin"], input: chosen + "\n").status != 0)
        let replayed = try portal.run(["login", "--user", "erin"], input: chosen + "\n" + confirmation + "\n")
        #expect(replayed.status == 3, "\(replayed.stderr)")
        let next = try totp.code(at: Date().addingTimeInterval(30))  // a later step, inside the ±1 window
        let login = try portal.run(["login", "--user", "erin"], input: chosen + "\n" + next + "\n")
        #expect(login.status == 0, "\(login.stderr)")
        #expect(login.stdout.contains("multi-factor"))
    }

    @Test("mfa recovery-codes: ten codes, each signs in once instead of the authenticator")
    func recoveryCodes() throws {
        let portal = try Portal()
        defer { portal.remove() }
        #expect(try portal.signIn("bob").status == 0)
        let issued = try portal.run(["mfa", "recovery-codes"])
        #expect(issued.status == 0, "\(issued.stderr)")
        let codes = issued.stdout.matches(of: /[ ]{2}([2-9A-HJ-NP-Z]{4}(?:-[2-9A-HJ-NP-Z]{4}){5})\n/).map {
            String($0.1)
        }
        #expect(codes.count == 10, "\(issued.stdout)")
        let code = try #require(codes.first)
        #expect(try portal.run(["logout"]).status == 0)
        let first = try portal.run(["login", "--user", "bob"], input: portal.password + "\n" + code + "\n")
        #expect(first.status == 0, "\(first.stderr)")
        let again = try portal.run(["login", "--user", "bob"], input: portal.password + "\n" + code + "\n")
        #expect(again.status == 3, "\(again.stderr)")
    }

    @Test("password recover prints one answer for every name; the outbox link resets the password once")
    func passwordRecovery() throws {
        let portal = try Portal()
        defer { portal.remove() }
        let outbox = portal.directory.appendingPathComponent("outbox").path
        var answers: Set<String> = []
        for name in ["nobody-here", "alice"] {
            let asked = try portal.run(["password", "recover", "--user", name, "--outbox", outbox])
            #expect(asked.status == 0, "\(asked.stderr)")
            answers.insert(asked.stdout + asked.stderr)
            // Only the known name's owner gets mail.
            #expect(FileManager.default.fileExists(atPath: outbox) == (name == "alice"))
        }
        #expect(answers == ["If an account has that name, a recovery link was sent to its owner.\n"])
        let mail = try String(contentsOfFile: outbox, encoding: .utf8)
        let link = try #require(mail.firstMatch(of: /link: (\S+)\n/)?.1)
        let chosen = "Quartz-lantern-Meadow-5519-ochre"
        let reset = try portal.run(["password", "reset"], input: link + "\n" + chosen + "\n")
        #expect(reset.status == 0, "\(reset.stderr)")
        #expect(try portal.run(["password", "reset"], input: link + "\n" + chosen + "x\n").status == 3)
        let code = try portal.run(["totp-code", "--account", "alice"])
        let login = try portal.run(["login", "--user", "alice"], input: chosen + "\n" + code.stdout)
        #expect(login.status == 0, "\(login.stderr)")
    }
}
