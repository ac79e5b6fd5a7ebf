/// A session as the client holds it: the opaque value of the session cookie (or bearer token).
public struct AttackSession: Sendable, Hashable, Codable {
    /// The cookie value.
    public var token: String

    /// A session with this cookie value.
    public init(token: String) { self.token = token }
}

/// What a client sees when it refuses something: the public status and message, and the reference
/// (correlation id) apart, since a fresh reference per response is expected and is not an oracle.
public struct AttackRefusal: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The public status (an HTTP status, or the app's own code), if it has one.
    public var status: Int?
    /// The public message shown to the client, without the reference.
    public var message: String
    /// The reference the client can quote to support, if any.
    public var reference: String?

    /// A refusal as the client saw it.
    public init(status: Int?, message: String, reference: String? = nil) {
        self.status = status
        self.message = message
        self.reference = reference
    }

    /// Status and message: what must be identical between two answers that must not differ.
    public var visible: String { "\(status.map(String.init) ?? "-") \(message)" }

    /// The visible part and the reference.
    public var description: String { visible + (reference.map { " (ref \($0))" } ?? "") }
}

/// The answer to a record operation or another request.
public enum AttackResponse: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Done; `values` are what the client received (field name → value), empty for a write.
    case allowed(values: [String: String])
    /// Refused, with what the client was shown.
    case refused(AttackRefusal)

    /// The key under which ``AttackTarget/list(type:parameters:as:)`` puts the next page's cursor in
    /// an allowed answer's values (never a record id).
    public static let nextCursorKey = "@next-cursor"

    /// Whether the request was carried out.
    public var isAllowed: Bool { if case .allowed = self { true } else { false } }

    /// The refusal, if refused.
    public var refusal: AttackRefusal? { if case .refused(let refusal) = self { refusal } else { nil } }

    /// `allowed (N values)` or the refusal (values are never printed: they may be PHI).
    public var description: String {
        switch self {
        case .allowed(let values): "allowed (\(values.count) values)"
        case .refused(let refusal): "refused: \(refusal)"
        }
    }
}

/// The result of a sign-in step.
public enum SignInOutcome: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Signed in; the session to present from now on.
    case authenticated(AttackSession)
    /// The password was right; the session waits for a second-factor code.
    case secondFactorRequired(AttackSession)
    /// Refused, with what the client was shown.
    case refused(AttackRefusal)

    /// The session handed out, if any.
    public var session: AttackSession? {
        switch self {
        case .authenticated(let session), .secondFactorRequired(let session): session
        case .refused: nil
        }
    }

    /// The state name, or the refusal (never the token).
    public var description: String {
        switch self {
        case .authenticated: "authenticated"
        case .secondFactorRequired: "second factor required"
        case .refused(let refusal): "refused: \(refusal)"
        }
    }
}

/// A record operation a client asks for. `type` is the app's record type (`chart`), `id` the record id.
public enum RecordOperation: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Read one record.
    case read(type: String, id: String)
    /// Change fields of one record.
    case update(type: String, id: String, changes: [String: String])
    /// Delete one record.
    case delete(type: String, id: String)
    /// List the records of a type the caller may see.
    case list(type: String)

    /// The verb and target (never the values of an update).
    public var description: String {
        switch self {
        case .read(let type, let id): "read \(type) \(id.debugDescription)"
        case .update(let type, let id, let changes):
            "update \(type) \(id.debugDescription) fields \(changes.keys.sorted())"
        case .delete(let type, let id): "delete \(type) \(id.debugDescription)"
        case .list(let type): "list \(type)"
        }
    }
}

/// A test account of the fixture.
public struct AttackAccount: Sendable, Hashable, Codable {
    /// The login name as the user types it.
    public var loginName: String
    /// Its password.
    public var password: String
    /// Whether signing in asks for a second factor (a TOTP code from ``AttackTarget/currentSecondFactorCode(for:)``).
    public var hasSecondFactor: Bool

    /// A test account.
    public init(loginName: String, password: String, hasSecondFactor: Bool) {
        self.loginName = loginName
        self.password = password
        self.hasSecondFactor = hasSecondFactor
    }
}

/// A record of the fixture.
public struct AttackRecord: Sendable, Hashable, Codable {
    /// The record type (`chart`).
    public var type: String
    /// The record id.
    public var id: String
    /// The patient it belongs to.
    public var patientID: String

    /// A record.
    public init(type: String, id: String, patientID: String) {
        self.type = type
        self.id = id
        self.patientID = patientID
    }
}

/// The world the scenarios attack, seeded by the app before the run. Use throwaway data: the
/// scenarios sign in wrongly on purpose (accounts get locked), tamper with rows and end sessions.
public struct AttackFixture: Sendable {
    /// A patient who may read ``ownRecord`` (and only their own records).
    public var patient: AttackAccount
    /// A record of ``patient``.
    public var ownRecord: AttackRecord
    /// A record of another patient, which ``patient`` may not read.
    public var otherRecord: AttackRecord
    /// More records ``patient`` may not read, of other types (a note, a message, an export) or other
    /// patients: the IDOR scenario (attack 7) tries each by every spelling of its id, like
    /// ``otherRecord``. ``AttackTarget/perform(_:as:)`` must read them by their ``AttackRecord/type``.
    /// Empty by default.
    public var otherRecords: [AttackRecord]
    /// A field of ``ownRecord`` that patients may not change (a clinical field: `medications`).
    public var clinicalField: String
    /// A clinician allowed to read ``ownRecord`` (on its care team), used to read tampered rows.
    public var clinician: AttackAccount
    /// A user whose role may break the glass, on the care team of neither fixture record.
    public var emergencyUser: AttackAccount?
    /// A user holding an administrator role whose policy denies charts *and* an allowing clinical
    /// role on the care team of ``ownRecord`` (explicit deny beats allow).
    public var adminClinician: AttackAccount?
    /// An account with a second factor reserved for the brute-force scenario (it ends up locked).
    public var bruteForceVictim: AttackAccount
    /// Accounts that may take a few failed sign-ins each for the timing comparison (at least one).
    public var oracleAccounts: [AttackAccount]
    /// Values seeded in clear (names, SSNs, note text, passwords) that must never be found in the
    /// database files (at least 4 bytes each).
    public var plaintextSecrets: [String]

    /// The fixture.
    public init(
        patient: AttackAccount, ownRecord: AttackRecord, otherRecord: AttackRecord, clinicalField: String,
        clinician: AttackAccount, emergencyUser: AttackAccount?, adminClinician: AttackAccount?,
        bruteForceVictim: AttackAccount, oracleAccounts: [AttackAccount], plaintextSecrets: [String],
        otherRecords: [AttackRecord] = []
    ) {
        self.otherRecords = otherRecords
        self.patient = patient
        self.ownRecord = ownRecord
        self.otherRecord = otherRecord
        self.clinicalField = clinicalField
        self.clinician = clinician
        self.emergencyUser = emergencyUser
        self.adminClinician = adminClinician
        self.bruteForceVictim = bruteForceVictim
        self.oracleAccounts = oracleAccounts
        self.plaintextSecrets = plaintextSecrets
    }
}

extension SignInOutcome {
    /// What a client can compare between two answers: the state, or the refusal without its reference.
    var visible: String {
        switch self {
        case .refused(let refusal): "refused: \(refusal.visible)"
        default: description
        }
    }
}

extension AttackResponse {
    /// What a client can compare between two answers: the values, or the refusal without its reference.
    var visible: String {
        switch self {
        case .allowed(let values): "allowed \(values.keys.sorted())"
        case .refused(let refusal): "refused: \(refusal.visible)"
        }
    }
}
