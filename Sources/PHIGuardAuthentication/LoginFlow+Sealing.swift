import Foundation
import Logging
import PHIGuardAccess
internal import PHIGuardCrypto

extension LoginFlow {
    /// The seal purpose of session records (table and format version).
    static let sessionSealPurpose = "phiguard_sessions"
    static let sessionSealVersion = "phiguard_sessions.v1"

    /// `record` with its seal computed (any seal it had is replaced).
    func sealed(_ record: SessionRecord) -> SessionRecord {
        var record = record
        record.seal = sealing.sealer.seal(
            purpose: Self.sessionSealVersion, rowID: Hex.encode(record.tokenHash.bytes),
            fields: Self.sealedFields(record))
        return record
    }

    /// Whether `record`'s seal verifies (constant-time comparison; a missing seal never does).
    func verifiesSeal(_ record: SessionRecord) -> Bool {
        sealing.sealer.verify(
            record.seal, purpose: Self.sessionSealVersion, rowID: Hex.encode(record.tokenHash.bytes),
            fields: Self.sealedFields(record))
    }

    /// Every field of a session record except the two a store updates on each use without the flow
    /// re-sealing (``SessionStore/touch(_:lastSeenAt:idleExpiresAt:)``): `lastSeenAt` and
    /// `idleExpiresAt`. The token hash is the row id.
    static func sealedFields(_ record: SessionRecord) -> [RowSealField] {
        [
            .text(record.handle), .text(record.state.rawValue), .optional(record.accountID), .texts(record.roles),
            .optional(record.patientID), .optional(record.strength?.rawValue),
            .integer(record.createdAt.microsecondsSince1970), .integer(record.absoluteExpiresAt.microsecondsSince1970),
            .optional(record.authenticatedAt?.microsecondsSince1970),
            .optional(record.recentlyAuthenticatedAt?.microsecondsSince1970), .map(record.attributes),
            .optional(record.clientLabel),
        ]
    }

    /// The authenticated session for `record`, with the care-team memberships of its account read
    /// from ``careTeams`` now (so a change in the database counts from the next request on). A
    /// membership row that fails its seal check is audited as tampering and the principal gets no
    /// care-team memberships for this request (fail closed); a store failure refuses the request.
    func authenticatedSession(token: SessionToken, record: SessionRecord) async throws(AuthenticationError)
        -> AuthenticatedSession
    {
        guard let careTeams, let accountID = record.accountID else {
            return AuthenticatedSession(token: token, record: record)
        }
        let patients: Set<String>
        do {
            patients = try await careTeams.patients(ofMember: accountID)
        } catch {
            guard let tampered = Self.tamperedRow(in: error) else {
                logger.error("care-team store failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
                throw .unavailable
            }
            await auditor.tampered(
                table: tampered.table, rowID: tampered.rowID, claimedAccount: accountID, handle: record.handle)
            patients = []
        }
        return AuthenticatedSession(token: token, record: record, careTeamPatients: patients)
    }

    /// The tampering report inside a directory or store error, if it is one.
    static func tamperedRow(in error: any Error) -> TamperedRowError? {
        switch error {
        case let tampered as TamperedRowError: tampered
        case AccountDirectoryError.tampered(let tampered): tampered
        case CareTeamStoreError.tampered(let tampered): tampered
        default: nil
        }
    }

    /// Runs a directory call that looks up one account. A row that fails its seal check is audited
    /// as tampering and answered as `tampered` (the callers treat it like a missing or disabled
    /// account: refused); any other failure is ``AuthenticationError/unavailable``.
    func lookUpAccount(_ body: () async throws -> Account?) async throws(AuthenticationError) -> AccountLookup {
        do {
            return .found(try await body())
        } catch {
            guard let tampered = Self.tamperedRow(in: error) else {
                logger.error("account directory failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
                throw .unavailable
            }
            await auditor.tampered(table: tampered.table, rowID: tampered.rowID, claimedAccount: tampered.rowID)
            return .tampered(rowID: tampered.rowID)
        }
    }

    /// What ``lookUpAccount(_:)`` found.
    enum AccountLookup {
        /// The directory's answer (`nil`: no such account).
        case found(Account?)
        /// A row that failed its seal check (already audited).
        case tampered(rowID: String)

        /// The account, or `nil` when there is none or its row was refused.
        var account: Account? {
            if case .found(let account) = self { account } else { nil }
        }
    }
}
