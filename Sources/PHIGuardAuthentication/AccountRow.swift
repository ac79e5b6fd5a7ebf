internal import PHIGuardCrypto
package import PHIGuardFieldEncryption
package import PHIGuardTOTP

/// One stored row of a reference account directory, as the SQLite and PostgreSQL directories read
/// and write it: every column, the TOTP secret as a field-encryption envelope bound to
/// (`phiguard_accounts`, account id, `totp_secret`), and the seal over all of them.
package struct AccountRow: Sendable {
    /// The table name used in seals, envelopes and tampering reports.
    package static let table = "phiguard_accounts"
    static let sealPurpose = "phiguard_accounts.v1"

    package var id: String
    package var loginName: String
    package var skeleton: String
    package var passwordHash: String
    /// The TOTP secret's envelope (text form), or `nil` without an authenticator.
    package var totpSecret: String?
    /// `ALGORITHM:digits:period` (for example `SHA1:6:30`), or `nil` without an authenticator.
    package var totpParameters: String?
    package var roles: [String]
    package var patientID: String?
    package var isDisabled: Bool
    package var attributes: [String: String]
    package var seal: [UInt8]?

    package init(
        id: String, loginName: String, skeleton: String, passwordHash: String, totpSecret: String?,
        totpParameters: String?, roles: [String], patientID: String?, isDisabled: Bool,
        attributes: [String: String], seal: [UInt8]?
    ) {
        self.id = id
        self.loginName = loginName
        self.skeleton = skeleton
        self.passwordHash = passwordHash
        self.totpSecret = totpSecret
        self.totpParameters = totpParameters
        self.roles = roles
        self.patientID = patientID
        self.isDisabled = isDisabled
        self.attributes = attributes
        self.seal = seal
    }

    /// A new row for a registration, with a fresh random id (`a-` and 32 hex digits), its TOTP secret
    /// encrypted, new accounts' defaults (no roles, no patient, enabled) and its seal.
    package static func new(
        loginName: LoginName, passwordHash: String, totp: TOTP?, encryptor: FieldEncryptor, sealing: RowSealingKey
    ) throws(AccountDirectoryError) -> AccountRow {
        guard let random = try? Sodium.randomBytes(count: 16) else { throw .secretUnavailable("no randomness") }
        let id = "a-" + Hex.encode(random)
        var row = AccountRow(
            id: id, loginName: loginName.value, skeleton: loginName.skeleton, passwordHash: passwordHash,
            totpSecret: nil, totpParameters: nil, roles: [], patientID: nil, isDisabled: false, attributes: [:],
            seal: nil)
        try row.setTOTP(totp, encryptor: encryptor)
        row.reseal(with: sealing)
        return row
    }

    /// Replaces the TOTP columns with ``totpColumns(_:accountID:encryptor:)``. The caller re-seals the row.
    package mutating func setTOTP(_ totp: TOTP?, encryptor: FieldEncryptor) throws(AccountDirectoryError) {
        (totpSecret, totpParameters) = try Self.totpColumns(totp, accountID: id, encryptor: encryptor)
    }

    /// The TOTP columns of account `accountID`: the secret encrypted (an envelope bound to
    /// (`phiguard_accounts`, `accountID`, `totp_secret`)) and `ALGORITHM:digits:period`; both `nil`
    /// without an authenticator.
    package static func totpColumns(_ totp: TOTP?, accountID: String, encryptor: FieldEncryptor)
        throws(AccountDirectoryError) -> (secret: String?, parameters: String?)
    {
        guard let totp else { return (nil, nil) }
        var plain = totp.secret.withUnsafeBytes { Array($0) }
        defer { Sodium.zero(&plain) }
        let secret: String
        do {
            secret = try encryptor.encrypt(plain, context: Self.secretContext(accountID)).text
        } catch {
            throw .secretUnavailable(error.description)
        }
        let configuration = totp.configuration
        return (secret, "\(configuration.algorithm.rawValue):\(configuration.digits.rawValue):\(configuration.period)")
    }

    static func secretContext(_ id: String) -> FieldContext {
        FieldContext(table: table, recordID: id, field: "totp_secret")
    }

    /// Every column but the id (the row id of the seal) and the seal itself, in a fixed order.
    private var sealedFields: [RowSealField] {
        [
            .text(loginName), .text(skeleton), .text(passwordHash), .optional(totpSecret), .optional(totpParameters),
            .texts(roles), .optional(patientID), .bool(isDisabled), .map(attributes),
        ]
    }

    /// Recomputes the seal after a change.
    package mutating func reseal(with sealing: RowSealingKey) {
        seal = sealing.sealer.seal(purpose: Self.sealPurpose, rowID: id, fields: sealedFields)
    }

    /// Throws ``AccountDirectoryError/tampered(_:)`` unless the seal verifies.
    package func verify(with sealing: RowSealingKey) throws(AccountDirectoryError) {
        guard sealing.sealer.verify(seal, purpose: Self.sealPurpose, rowID: id, fields: sealedFields) else {
            throw .tampered(TamperedRowError(table: Self.table, rowID: id))
        }
    }

    /// The account, after the seal check, with the TOTP secret decrypted.
    package func account(sealing: RowSealingKey, encryptor: FieldEncryptor) throws(AccountDirectoryError) -> Account {
        try verify(with: sealing)
        var totp: TOTP?
        if let totpSecret {
            guard let parameters = totpParameters, let configuration = Self.configuration(parameters) else {
                throw .corruptRecord("totp_parameters")
            }
            var plain: [UInt8]
            do {
                plain = try encryptor.decrypt(text: totpSecret, context: Self.secretContext(id))
            } catch {
                throw .secretUnavailable(error.description)
            }
            defer { Sodium.zero(&plain) }
            guard let secret = try? TOTPSecret(bytes: plain) else { throw .corruptRecord("totp_secret") }
            totp = TOTP(secret: secret, configuration: configuration)
        }
        return Account(
            id: id, passwordHash: passwordHash, totp: totp, roles: roles, patientID: patientID, isDisabled: isDisabled,
            attributes: attributes)
    }

    private static func configuration(_ text: String) -> TOTPConfiguration? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, let algorithm = OTPAlgorithm(rawValue: String(parts[0])),
            let digitCount = Int(parts[1]), let digits = OTPDigits(rawValue: digitCount), let period = Int(parts[2])
        else { return nil }
        return try? TOTPConfiguration(algorithm: algorithm, digits: digits, period: period)
    }
}
