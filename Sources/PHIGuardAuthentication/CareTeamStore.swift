internal import PHIGuardCrypto

/// Where care-team memberships live: which users are on the care team of which patient.
///
/// `AccessEngine` asks its `CareTeamDirectory` synchronously, in the middle of a decision, so it
/// cannot wait for a database. A store is read by ``LoginFlow`` instead: on every ``LoginFlow/resume(_:)``
/// (and sign-in) the flow loads the signed-in user's memberships and puts them into the
/// principal's `Subject.careTeamPatients`, which the engine then uses without asking anyone. A
/// membership added or removed in the database therefore counts from the user's **next request**,
/// on every instance, without reloading the process; one request sees one consistent snapshot.
///
/// Implementations: ``InMemoryCareTeamStore``, `SQLiteCareTeamStore` (`PHIGuardSQLite`) and
/// `PostgresCareTeamStore` (`PHIGuardPostgres`), whose rows are sealed with a ``RowSealingKey``: a
/// membership row edited in the database (its patient or member changed) fails its seal check and
/// is refused (``CareTeamStoreError/tampered(_:)``); the flow then audits `integrity.tamper-detected`
/// and gives the principal no care-team memberships for that request (fail closed).
public protocol CareTeamStore: Sendable {
    /// The patients on whose care teams `memberID` (an account id) is.
    func patients(ofMember memberID: String) async throws -> Set<String>
    /// Puts `memberID` on the care team of `patientID` (no change if already there).
    func add(memberID: String, patientID: String) async throws
    /// Takes `memberID` off the care team of `patientID`; returns whether it was there.
    @discardableResult
    func remove(memberID: String, patientID: String) async throws -> Bool
}

/// A care-team store's failure. Descriptions never name a member or a patient.
public enum CareTeamStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The backend could not be reached or failed; the payload is the underlying error's type name.
    case unavailable(String)
    /// A stored row could not be read back (the payload names the column).
    case corruptRecord(String)
    /// A membership row failed its seal check (edited without the ``RowSealingKey``): refused.
    case tampered(TamperedRowError)
    /// An empty member or patient id (an empty id never satisfies a relationship).
    case emptyIdentifier

    /// A description without identifiers.
    public var description: String {
        switch self {
        case .unavailable(let type): "care-team store unavailable (\(type))"
        case .corruptRecord(let column): "stored care-team membership unreadable (column \(column))"
        case .tampered(let tampered): tampered.description
        case .emptyIdentifier: "empty member or patient id"
        }
    }
}

/// A ``CareTeamStore`` in process memory (one process; nothing at rest, so nothing sealed).
public final class InMemoryCareTeamStore: CareTeamStore {
    private let memberships = Locked<[String: Set<String>]>([:])

    /// An empty store.
    public init() {}

    /// The patients on whose care teams `memberID` is.
    public func patients(ofMember memberID: String) -> Set<String> {
        memberships.withLock { $0[memberID] ?? [] }
    }

    /// Adds a membership.
    public func add(memberID: String, patientID: String) throws(CareTeamStoreError) {
        guard !memberID.isEmpty, !patientID.isEmpty else { throw .emptyIdentifier }
        _ = memberships.withLock { $0[memberID, default: []].insert(patientID) }
    }

    /// Removes a membership.
    @discardableResult
    public func remove(memberID: String, patientID: String) -> Bool {
        memberships.withLock { $0[memberID]?.remove(patientID) != nil }
    }
}

/// The sealed form of a care-team membership row, shared by the SQLite and PostgreSQL stores: the
/// row id is `member` and `patient` length-prefixed, so a row's patient cannot be changed, nor the
/// row moved to another member, without the seal failing.
package enum CareTeamRow {
    /// The table name used in seals and tampering reports.
    package static let table = "phiguard_care_teams"
    static let sealPurpose = "phiguard_care_teams.v1"

    /// The seal of the membership (`memberID`, `patientID`).
    package static func seal(memberID: String, patientID: String, with sealing: RowSealingKey) -> [UInt8] {
        sealing.sealer.seal(purpose: sealPurpose, rowID: memberID, fields: [.text(memberID), .text(patientID)])
    }

    /// Throws ``CareTeamStoreError/tampered(_:)`` unless `seal` is the membership's seal.
    package static func verify(
        _ seal: [UInt8]?, memberID: String, patientID: String, with sealing: RowSealingKey
    ) throws(CareTeamStoreError) {
        guard
            sealing.sealer.verify(
                seal, purpose: sealPurpose, rowID: memberID, fields: [.text(memberID), .text(patientID)])
        else { throw .tampered(TamperedRowError(table: table, rowID: memberID)) }
    }
}
