internal import PHIGuardAuthentication
internal import PHIGuardSQLite
internal import PHIGuardTOTP

extension Portal {
    /// DEMO ONLY: the `otpauth://totp/…` URI of a seeded demo account's authenticator (add it to an
    /// authenticator app, or let a test compute codes from it). Refused (``PortalError/notADemoAccount``)
    /// for any account the seed did not make, like ``demoCode(loginName:)``. The URI holds the TOTP
    /// secret: print it only for demo accounts, never log it.
    public func demoAuthenticatorURI(loginName: String) async throws -> String {
        guard let name = try? LoginName(loginName), let account = try await accounts.account(loginName: name),
            account.attributes[PortalSeed.demoAttribute] == "yes", let totp = account.totp
        else { throw PortalError.notADemoAccount }
        return try OTPAuthURI(totp: totp, issuer: "PHIGuard Portal", accountName: name.value).revealString()
    }
}
