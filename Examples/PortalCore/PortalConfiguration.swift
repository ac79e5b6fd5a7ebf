public import Logging
public import PHIGuardAccess
internal import PHIGuardPostgres

/// Where a ``Portal`` keeps its data, its keys and its policy.
///
/// ```swift
/// let portal = try await Portal.open(
///     PortalConfiguration(databasePath: "portal.sqlite", keyDirectory: "portal-keys", policyPath: "hospital.yaml"))
/// ```
public struct PortalConfiguration: Sendable {
    /// The SQLite file holding every table (accounts, care teams, records, sessions, lockout, rate
    /// limits, TOTP steps, recovery codes, break-glass grants, the audit log). With ``databaseURL``
    /// no file is made here: the path only names the portal's local files (the witness by default).
    public var databasePath: String
    /// A PostgreSQL URL (`postgres://user[:password]@host[:port]/database?sslmode=verify-full&sslrootcert=CA.pem`,
    /// read by `PostgresConnectionURL` of PHIGuardPostgres: TLS with the server's certificate and
    /// host name verified unless the URL says otherwise). When set, every store is in that
    /// database instead of the SQLite file, shared by every portal instance that names it (the
    /// multi-instance deployment). `nil`: the SQLite file. Read it from the environment or a
    /// file, never from a command line (it may hold a password).
    public var databaseURL: String?
    /// The key directory (`KeyDirectory` of PHIGuardKeys): files 0600 in a 0700 directory.
    public var keyDirectory: String
    /// The access policy (YAML).
    public var policyPath: String
    /// The audit checkpoint witness file (`FileCheckpointWitness`): a copy of every signed
    /// checkpoint outside the database, so cutting the log back together with the checkpoints stored
    /// beside it is detected (`phiguard audit verify --witness FILE`). By default next to the
    /// database (`<databasePath>.audit-witness`); in production put it where the portal cannot
    /// truncate it (an append-only mount, another host's share).
    public var auditWitnessPath: String
    /// The address recorded for rate limits and lockout (a CLI has no remote peer; a web front end
    /// passes the peer address per call instead).
    public var clientAddress: String
    /// The label stored with each session (shown by `sessions list`).
    public var clientLabel: String
    /// The one clock of every component.
    public var clock: any PHIGuardClock
    /// Where failures and their internal reasons are logged (never shown to the user).
    public var logger: Logger

    /// A configuration over one SQLite file, or over the PostgreSQL database `databaseURL` names.
    public init(
        databasePath: String, keyDirectory: String, policyPath: String, auditWitnessPath: String? = nil,
        databaseURL: String? = nil, clientAddress: String = "local-cli",
        clientLabel: String = "PatientPortal CLI", clock: any PHIGuardClock = SystemClock(),
        logger: Logger = Logger(label: "patient-portal")
    ) {
        self.databasePath = databasePath
        self.databaseURL = databaseURL
        self.keyDirectory = keyDirectory
        self.policyPath = policyPath
        self.auditWitnessPath = auditWitnessPath ?? databasePath + ".audit-witness"
        self.clientAddress = clientAddress
        self.clientLabel = clientLabel
        self.clock = clock
        self.logger = logger
    }
}

extension PortalConfiguration: CustomStringConvertible, CustomReflectable {
    /// The paths and the database, with a PostgreSQL URL shown without its password (or as
    /// `<unreadable URL>` if it does not parse): safe to log.
    public var description: String {
        let database =
            databaseURL.map { text in (try? PostgresConnectionURL(text)).map(\.description) ?? "<unreadable URL>" }
            ?? databasePath
        return "PortalConfiguration(database: \(database), keys: \(keyDirectory), policy: \(policyPath))"
    }

    /// Only ``description`` (a mirror of the stored properties would show the URL's password).
    public var customMirror: Mirror { Mirror(self, children: ["description": description]) }
}
