import Foundation
import InMemoryLogging
import Logging
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardAuthentication
import PHIGuardErrors
import PHIGuardFieldEncryption
import PHIGuardPasswords
import PHIGuardRateLimit
import PHIGuardRecords
import PHIGuardTOTP
import Testing

/// Values planted in errors and context; none may reach a user.
enum Planted {
    // Planted through context; redacted, so they must not reach the log either.
    static let contextPatientName = "Jane Quinn Doe"
    static let contextSSN = "078-05-1120"
    static let contextPassword = "Tr0ub4dor&3-planted"
    static let contextToken = "eyJhbGciOiJIUzI1NiJ9.planted"
    static let contextValues = [contextPatientName, contextSSN, contextPassword, contextToken]

    // Planted inside error payloads (descriptions, associated values).
    static let patient = "Rosa Parkhurst 1961-04-12"
    static let sql = "SELECT * FROM patients WHERE ssn='219-09-9999'"
    static let path = "/var/lib/phiguard/keys/master.key"
    static let stackFrame = "Fatal error: Unexpectedly found nil at PHIGuardPasswords/Argon2.swift:88"
    static let address = "0x00007f3a1c2b4d10"
    static let totpSecret = "JBSWY3DPEHPK3PXP"
    static let medicalRecord = "MRN-00981234"
    static let errorValues = [patient, sql, path, stackFrame, address, totpSecret, medicalRecord]

    /// Fragments that betray internals, whatever value carries them.
    static let internalFragments = [
        "SELECT", "FROM patients", "/var/", "/etc/", ".swift", "0x0000", "Fatal error", "Thread ", "PHIGuardPasswords",
        "PasswordHashingError", "PlantedError", "NSError", "DecodingError", "argon2", "libsodium", "1961", "219-09",
        "<redacted", "unmapped",
    ]

    /// The context every report in the scan carries.
    static let context: ErrorContext = [
        "patient_name": .value(contextPatientName),  // redacted by its name
        "ssn": .value(contextSSN),  // redacted by its name
        "password": .value(contextPassword),  // redacted by its name
        "session": .secret,
        "free_text": .phi,
        "query": .value("SELECT id FROM notes WHERE chart = $1"),  // internal detail: logged
        "db_path": .value("/srv/portal/chart.sqlite"),  // internal detail: logged
    ]
}

/// An app error that is mapped by nothing and whose description is full of secrets and PHI.
struct PlantedError: Error, CustomStringConvertible {
    var description: String { Planted.errorValues.joined(separator: " | ") + " " + Planted.contextValues.joined() }
}

enum PlantedEnumError: Error {
    case rowFailed(patientName: String, query: String)
}

/// Names each case, exhaustively: adding a case to PasswordHashingError breaks this until the scan covers it.
func caseName(_ error: PasswordHashingError) -> String {
    switch error {
    case .emptyPassword: "emptyPassword"
    case .passwordTooLong: "passwordTooLong"
    case .invalidParameters: "invalidParameters"
    case .malformedHash: "malformedHash"
    case .unknownPepper: "unknownPepper"
    case .invalidPepper: "invalidPepper"
    case .overloaded: "overloaded"
    case .cancelled: "cancelled"
    case .argon2Failure: "argon2Failure"
    case .secureMemoryFailure: "secureMemoryFailure"
    case .invalidEncoding: "invalidEncoding"
    }
}

/// Names each RateLimitError case, exhaustively, like the PasswordHashingError one above.
func caseName(_ error: RateLimitError) -> String {
    switch error {
    case .invalidLimit: "invalidLimit"
    case .invalidCheck: "invalidCheck"
    case .storeUnavailable: "storeUnavailable"
    }
}

let rateLimitErrors: [RateLimitError] = [
    .invalidLimit(Planted.sql),
    .invalidCheck(Planted.medicalRecord),
    .storeUnavailable("connection to postgres://phiguard:" + Planted.totpSecret + "@db failed: " + Planted.path),
]

let passwordErrors: [PasswordHashingError] = [
    .emptyPassword,
    .passwordTooLong(maximumUTF8Bytes: 1024),
    .invalidParameters(Planted.sql),
    .malformedHash(.salt),
    .unknownPepper(id: Planted.totpSecret),
    .invalidPepper(Planted.path),
    .overloaded,
    .cancelled,
    .invalidEncoding,
    .argon2Failure(code: -22, message: Planted.stackFrame + " " + Planted.address),
    .secureMemoryFailure(Planted.patient + " " + Planted.medicalRecord),
]

struct TypedBody: Decodable {
    var ssn: Int
}

/// One sample of every case of the capability errors mapped in Sources/PHIGuardErrors/Mappings,
/// with planted values wherever a case carries text. The switch in `capabilityCaseName` is
/// exhaustive, so a new case breaks the build until it is sampled here.
let totpErrors: [TOTPError] = [
    .invalidSecretLength(byteCount: 3), .invalidSecretBitCount(64), .malformedSecret(.invalidCharacter(offset: 4)),
    .invalidPeriod(0), .invalidWindow(99), .malformedCode(.nonDigit), .timeOutOfRange, .malformedURI(.scheme),
    .invalidLabel(.label), .qrEncodingFailed, .secureMemoryFailure(Planted.stackFrame),
]
let recoveryCodeErrors: [RecoveryCodeError] = [
    .malformedCode, .malformedHash, .invalidKeyLength(3), .invalidCount(0), .store(Planted.path),
    .secureMemoryFailure(Planted.address),
]
let fieldEncryptionErrors: [FieldEncryptionError] = [
    .decryptionFailed, .invalidContext(Planted.medicalRecord), .invalidKey(Planted.totpSecret),
    .plaintextTooLong(maximumByteCount: 16), .verificationFailed, .secureMemoryFailure(Planted.patient),
]
let keyProviderErrors: [KeyProviderError] = [
    .fileNotFound(path: Planted.path), .unreadable(path: Planted.path, errno: 13),
    .insecurePermissions(path: Planted.path, mode: "0644"), .notRegularFile(path: Planted.path), .tooLarge,
    .malformed(line: 3, reason: Planted.totpSecret), .variableNotSet(name: "PHIGUARD_KEY"),
    .fileExists(path: Planted.path), .writeFailed(path: Planted.path, errno: 28), .invalidKeyring(.decryptionFailed),
]
let blindIndexErrors: [BlindIndexError] = [
    .invalidBitLength(0), .invalidName(Planted.sql), .populationTooSmall(population: 3),
    .keyDerivationFailed(Planted.stackFrame),
]
let auditErrors: [AuditError] = [
    .invalidIdentifier(field: "patient"), .invalidEvent(Planted.patient), .sinkUnavailable, .sinkFailed, .closed,
    .unwrittenEvents(count: 3), .invalidKey(Planted.totpSecret), .secureMemoryFailure(Planted.address),
    .storageFailure(Planted.sql), .malformedCheckpoint(Planted.path),
]
let authenticationErrors: [any Error] = [
    AuthenticationError.rejected, AuthenticationError.tryLater(retryAfter: .seconds(30)),
    AuthenticationError.sessionEnded, AuthenticationError.passwordNotAccepted([.tooShort(minimum: 8)]),
    AuthenticationError.loginNameNotAccepted(.mixedScripts),
    AuthenticationError.unavailable, SessionStoreError.unavailable(Planted.path + " " + Planted.sql),
    SessionStoreError.duplicate, SessionStoreError.corruptRecord(Planted.medicalRecord),
    LoginConfigurationError.notPositive("idleTimeout"), LoginConfigurationError.absoluteLifetimeOverTwelveHours,
    LoginConfigurationError.idleTimeoutExceedsAbsoluteLifetime,
    LoginConfigurationError.invalidRateLimiter(Planted.stackFrame), LoginConfigurationError.sealingKeyRequired,
    LoginConfigurationError.invalidSealingKey(Planted.stackFrame),
    LoginConfigurationError.idleRefreshIntervalOutOfRange,
    AccountDirectoryError.unavailable(Planted.path + " " + Planted.sql),
    AccountDirectoryError.corruptRecord(Planted.medicalRecord),
    AccountDirectoryError.tampered(TamperedRowError(table: "phiguard_accounts", rowID: Planted.medicalRecord)),
    AccountDirectoryError.unknownAccount, AccountDirectoryError.secretUnavailable(Planted.stackFrame),
    CareTeamStoreError.unavailable(Planted.sql), CareTeamStoreError.corruptRecord(Planted.medicalRecord),
    CareTeamStoreError.tampered(TamperedRowError(table: "phiguard_care_teams", rowID: Planted.patient)),
    CareTeamStoreError.emptyIdentifier, TamperedRowError(table: "phiguard_sessions", rowID: Planted.medicalRecord),
    RowSealingKeyError.invalidLength(16), RowSealingKeyError.notBase64,
    RowSealingKeyError.secureMemoryFailure(Planted.stackFrame),
]
/// A policy that fails to load, with a planted path and SQL in it (they reach the log, never the user).
let rejectedPolicy: PolicyValidationError = {
    do throws(PolicyValidationError) {
        _ = try CompiledPolicy(yaml: "version: 1\nroles:\n  - name: \"\(Planted.path)\"\nrules: [\(Planted.sql)\n")
    } catch {
        return error
    }
    return PolicyValidationError(issues: [PolicyIssue(.syntax, Planted.path, at: nil)])
}()
/// A policy test file that does not load, with a planted path in it.
let unreadablePolicyTests: PolicyTestSuite.LoadError = {
    do throws(PolicyTestSuite.LoadError) {
        _ = try PolicyTestSuite(yaml: "tests: [{name: \"\(Planted.path)\", request: \(Planted.sql)")
    } catch {
        return error
    }
    preconditionFailure("the planted test file should not load")
}()
let accessErrors: [any Error] = [
    BreakGlassError.notPermitted, BreakGlassError.missingJustification, BreakGlassError.justificationTooLong,
    BreakGlassError.invalidDuration, BreakGlassError.invalidScope, rejectedPolicy,
    unreadablePolicyTests,
    AccessRequestDocument.Problem.invalidTime, AccessRequestDocument.Problem.breakGlass(.notPermitted),
    RateLimitExceeded(retryAfter: .milliseconds(2_500), refusedBy: ["login-per-address"]),
]
let recordErrors: [RecordError] = [
    .notFoundOrDenied, .fieldsNotPermitted([Planted.patient]), .invalidField(Planted.sql), .invalidIdentifier,
    .alreadyExists, .auditUnavailable, .storeUnavailable(Planted.path), .corruptRecord(field: Planted.medicalRecord),
    .encryptionFailed(field: Planted.stackFrame), .queryRefused(Planted.sql), .planUntranslatable(Planted.path),
    .invalidCursor, .listingUnsupported, .listInconsistent,
]
let emergencyAccessErrors: [EmergencyAccessError] = [
    .refused(.notPermitted), .auditUnavailable, .storeUnavailable(Planted.sql), .encryptionFailed, .notFound,
    .notPermitted, .alreadyReviewed, .invalidOutcome, .corruptGrant,
]
let capabilityErrors: [any Error] =
    totpErrors + [TOTPVerifierError.totp(.malformedCode(.length)), TOTPVerifierError.replayStore(Planted.sql)]
    + recoveryCodeErrors + fieldEncryptionErrors + keyProviderErrors + blindIndexErrors + auditErrors
    + authenticationErrors + accessErrors + recordErrors + emergencyAccessErrors

/// Names each capability error case (exhaustive switches: adding a case breaks this until it is sampled).
func capabilityCaseName(_ error: any Error) -> String {
    switch error {
    case let error as TOTPError:
        switch error {
        case .invalidSecretLength: "TOTPError.invalidSecretLength"
        case .invalidSecretBitCount: "TOTPError.invalidSecretBitCount"
        case .malformedSecret: "TOTPError.malformedSecret"
        case .invalidPeriod: "TOTPError.invalidPeriod"
        case .invalidWindow: "TOTPError.invalidWindow"
        case .malformedCode: "TOTPError.malformedCode"
        case .timeOutOfRange: "TOTPError.timeOutOfRange"
        case .malformedURI: "TOTPError.malformedURI"
        case .invalidLabel: "TOTPError.invalidLabel"
        case .qrEncodingFailed: "TOTPError.qrEncodingFailed"
        case .secureMemoryFailure: "TOTPError.secureMemoryFailure"
        }
    case let error as TOTPVerifierError:
        switch error {
        case .totp: "TOTPVerifierError.totp"
        case .replayStore: "TOTPVerifierError.replayStore"
        }
    case let error as RecoveryCodeError:
        switch error {
        case .malformedCode: "RecoveryCodeError.malformedCode"
        case .malformedHash: "RecoveryCodeError.malformedHash"
        case .invalidKeyLength: "RecoveryCodeError.invalidKeyLength"
        case .invalidCount: "RecoveryCodeError.invalidCount"
        case .store: "RecoveryCodeError.store"
        case .secureMemoryFailure: "RecoveryCodeError.secureMemoryFailure"
        }
    case let error as FieldEncryptionError:
        switch error {
        case .decryptionFailed: "FieldEncryptionError.decryptionFailed"
        case .invalidContext: "FieldEncryptionError.invalidContext"
        case .invalidKey: "FieldEncryptionError.invalidKey"
        case .plaintextTooLong: "FieldEncryptionError.plaintextTooLong"
        case .verificationFailed: "FieldEncryptionError.verificationFailed"
        case .secureMemoryFailure: "FieldEncryptionError.secureMemoryFailure"
        }
    case let error as KeyProviderError:
        switch error {
        case .fileNotFound: "KeyProviderError.fileNotFound"
        case .unreadable: "KeyProviderError.unreadable"
        case .insecurePermissions: "KeyProviderError.insecurePermissions"
        case .notRegularFile: "KeyProviderError.notRegularFile"
        case .tooLarge: "KeyProviderError.tooLarge"
        case .malformed: "KeyProviderError.malformed"
        case .variableNotSet: "KeyProviderError.variableNotSet"
        case .fileExists: "KeyProviderError.fileExists"
        case .writeFailed: "KeyProviderError.writeFailed"
        case .invalidKeyring: "KeyProviderError.invalidKeyring"
        }
    case let error as BlindIndexError:
        switch error {
        case .invalidBitLength: "BlindIndexError.invalidBitLength"
        case .invalidName: "BlindIndexError.invalidName"
        case .populationTooSmall: "BlindIndexError.populationTooSmall"
        case .keyDerivationFailed: "BlindIndexError.keyDerivationFailed"
        }
    case let error as AuditError:
        switch error {
        case .invalidIdentifier: "AuditError.invalidIdentifier"
        case .invalidEvent: "AuditError.invalidEvent"
        case .sinkUnavailable: "AuditError.sinkUnavailable"
        case .sinkFailed: "AuditError.sinkFailed"
        case .closed: "AuditError.closed"
        case .unwrittenEvents: "AuditError.unwrittenEvents"
        case .invalidKey: "AuditError.invalidKey"
        case .secureMemoryFailure: "AuditError.secureMemoryFailure"
        case .storageFailure: "AuditError.storageFailure"
        case .malformedCheckpoint: "AuditError.malformedCheckpoint"
        }
    case let error as AuthenticationError:
        switch error {
        case .rejected: "AuthenticationError.rejected"
        case .tryLater: "AuthenticationError.tryLater"
        case .sessionEnded: "AuthenticationError.sessionEnded"
        case .passwordNotAccepted: "AuthenticationError.passwordNotAccepted"
        case .loginNameNotAccepted: "AuthenticationError.loginNameNotAccepted"
        case .unavailable: "AuthenticationError.unavailable"
        }
    case let error as SessionStoreError:
        switch error {
        case .unavailable: "SessionStoreError.unavailable"
        case .duplicate: "SessionStoreError.duplicate"
        case .corruptRecord: "SessionStoreError.corruptRecord"
        }
    case let error as LoginConfigurationError:
        switch error {
        case .notPositive: "LoginConfigurationError.notPositive"
        case .absoluteLifetimeOverTwelveHours: "LoginConfigurationError.absoluteLifetimeOverTwelveHours"
        case .idleTimeoutExceedsAbsoluteLifetime: "LoginConfigurationError.idleTimeoutExceedsAbsoluteLifetime"
        case .invalidRateLimiter: "LoginConfigurationError.invalidRateLimiter"
        case .sealingKeyRequired: "LoginConfigurationError.sealingKeyRequired"
        case .invalidSealingKey: "LoginConfigurationError.invalidSealingKey"
        case .idleRefreshIntervalOutOfRange: "LoginConfigurationError.idleRefreshIntervalOutOfRange"
        }
    case let error as AccountDirectoryError:
        switch error {
        case .unavailable: "AccountDirectoryError.unavailable"
        case .corruptRecord: "AccountDirectoryError.corruptRecord"
        case .tampered: "AccountDirectoryError.tampered"
        case .unknownAccount: "AccountDirectoryError.unknownAccount"
        case .secretUnavailable: "AccountDirectoryError.secretUnavailable"
        }
    case let error as CareTeamStoreError:
        switch error {
        case .unavailable: "CareTeamStoreError.unavailable"
        case .corruptRecord: "CareTeamStoreError.corruptRecord"
        case .tampered: "CareTeamStoreError.tampered"
        case .emptyIdentifier: "CareTeamStoreError.emptyIdentifier"
        }
    case is TamperedRowError: "TamperedRowError"
    case let error as RowSealingKeyError:
        switch error {
        case .invalidLength: "RowSealingKeyError.invalidLength"
        case .notBase64: "RowSealingKeyError.notBase64"
        case .secureMemoryFailure: "RowSealingKeyError.secureMemoryFailure"
        }
    case let error as BreakGlassError:
        switch error {
        case .notPermitted: "BreakGlassError.notPermitted"
        case .missingJustification: "BreakGlassError.missingJustification"
        case .justificationTooLong: "BreakGlassError.justificationTooLong"
        case .invalidDuration: "BreakGlassError.invalidDuration"
        case .invalidScope: "BreakGlassError.invalidScope"
        }
    case is PolicyValidationError: "PolicyValidationError"
    case is PolicyTestSuite.LoadError: "PolicyTestSuite.LoadError"
    case let error as AccessRequestDocument.Problem:
        switch error {
        case .invalidTime: "AccessRequestDocument.Problem.invalidTime"
        case .breakGlass: "AccessRequestDocument.Problem.breakGlass"
        }
    case is RateLimitExceeded: "RateLimitExceeded"
    case let error as RecordError:
        switch error {
        case .notFoundOrDenied: "RecordError.notFoundOrDenied"
        case .fieldsNotPermitted: "RecordError.fieldsNotPermitted"
        case .invalidField: "RecordError.invalidField"
        case .invalidIdentifier: "RecordError.invalidIdentifier"
        case .alreadyExists: "RecordError.alreadyExists"
        case .auditUnavailable: "RecordError.auditUnavailable"
        case .storeUnavailable: "RecordError.storeUnavailable"
        case .corruptRecord: "RecordError.corruptRecord"
        case .encryptionFailed: "RecordError.encryptionFailed"
        case .queryRefused: "RecordError.queryRefused"
        case .planUntranslatable: "RecordError.planUntranslatable"
        case .invalidCursor: "RecordError.invalidCursor"
        case .listingUnsupported: "RecordError.listingUnsupported"
        case .listInconsistent: "RecordError.listInconsistent"
        }
    case let error as EmergencyAccessError:
        switch error {
        case .refused: "EmergencyAccessError.refused"
        case .auditUnavailable: "EmergencyAccessError.auditUnavailable"
        case .storeUnavailable: "EmergencyAccessError.storeUnavailable"
        case .encryptionFailed: "EmergencyAccessError.encryptionFailed"
        case .notFound: "EmergencyAccessError.notFound"
        case .notPermitted: "EmergencyAccessError.notPermitted"
        case .alreadyReviewed: "EmergencyAccessError.alreadyReviewed"
        case .invalidOutcome: "EmergencyAccessError.invalidOutcome"
        case .corruptGrant: "EmergencyAccessError.corruptGrant"
        }
    default: "unknown \(type(of: error))"
    }
}

/// Every kind of error the scan reports, with what it is.
func scannedErrors() -> [(label: String, error: any Error, mapped: Bool)] {
    var errors: [(label: String, error: any Error, mapped: Bool)] = passwordErrors.map {
        ("PasswordHashingError.\(caseName($0))", $0, true)
    }
    errors += rateLimitErrors.map { ("RateLimitError.\(caseName($0))", $0, true) }
    errors += capabilityErrors.map { (capabilityCaseName($0), $0, true) }
    errors.append(("AccessDenial.resource", AccessDenial(resourceType: "Patient", id: Planted.medicalRecord), true))
    errors.append(("AccessDenial.action", AccessDenial(action: "export " + Planted.path, decidingRules: ["r1"]), true))
    errors.append(("ResourceNotFound", ResourceNotFound(resourceType: "Patient", id: Planted.medicalRecord), true))
    do {
        _ = try JSONDecoder().decode(TypedBody.self, from: Data(#"{"ssn": "219-09-9999 Rosa Parkhurst"}"#.utf8))
    } catch {
        errors.append(("DecodingError.typeMismatch", error, true))
    }
    do {
        _ = try JSONDecoder().decode(TypedBody.self, from: Data("{\"ssn\": \(Planted.sql)".utf8))
    } catch {
        errors.append(("DecodingError.dataCorrupted", error, true))
    }
    errors.append(("unmapped struct", PlantedError(), false))
    errors.append(
        ("unmapped enum", PlantedEnumError.rowFailed(patientName: Planted.patient, query: Planted.sql), false))
    errors.append(
        (
            "unmapped NSError",
            NSError(
                domain: "PlantedDomain " + Planted.path, code: 7,
                userInfo: [NSLocalizedDescriptionKey: Planted.stackFrame + Planted.patient]),
            false
        ))
    errors.append(("unmapped CancellationError", CancellationError(), false))
    return errors
}

@Suite("Leak scan: public renderings carry no secrets, PHI, paths, SQL or stack frames")
struct LeakScanTests {
    @Test("the scan covers every case of every mapped PHIGuard error type")
    func coversEveryPasswordCase() {
        #expect(Set(passwordErrors.map(caseName)).count == 11)
        #expect(Set(rateLimitErrors.map(caseName)).count == 3)
        // 11 TOTPError + 2 TOTPVerifierError + 6 RecoveryCodeError + 6 FieldEncryptionError
        // + 10 KeyProviderError + 4 BlindIndexError + 10 AuditError + 6 AuthenticationError
        // + 3 SessionStoreError + 7 LoginConfigurationError + 5 AccountDirectoryError + 4 CareTeamStoreError
        // + TamperedRowError + 3 RowSealingKeyError + 5 BreakGlassError + PolicyValidationError
        // + PolicyTestSuite.LoadError + 2 AccessRequestDocument.Problem + RateLimitExceeded + 14 RecordError
        // + 9 EmergencyAccessError.
        let names = Set(capabilityErrors.map(capabilityCaseName))
        #expect(names.count == 111)
        #expect(!names.contains { $0.hasPrefix("unknown") })
    }

    @Test("the planted errors really do carry the planted values (so the scan can fail)")
    func plantsAreReal() {
        #expect(String(describing: PlantedError()).contains(Planted.patient))
        #expect(PasswordHashingError.invalidParameters(Planted.sql).description.contains(Planted.sql))
        #expect(
            String(describing: AccessDenial(resourceType: "Patient", id: Planted.medicalRecord)).contains(
                Planted.medicalRecord))
    }

    @Test(
        "public text has no planted value and the log has the correlation id and redacted detail",
        arguments: [ResourceDenialPolicy.forbidden, .notFound], [false, true])
    func scan(policy: ResourceDenialPolicy, duringAuthentication: Bool) throws {
        let capture = CapturingReporter(configuration: .init(resourceDenial: policy))
        for (index, (label, error, mapped)) in scannedErrors().enumerated() {
            // Fixed ids: a random UUID could contain a planted digit run by chance.
            let id = try #require(CorrelationID("scan-\(index)"))
            let failure =
                duringAuthentication
                ? capture.reporter.reportAuthenticationFailure(error, context: Planted.context, correlationID: id)
                : capture.reporter.report(error, context: Planted.context, correlationID: id)

            // The public side.
            let publicTexts =
                [failure.problemJSON, failure.cliMessage, failure.description, failure.typeURI]
                + failure.headers.map(\.description)
            for text in publicTexts {
                for planted in Planted.contextValues + Planted.errorValues + Planted.internalFragments {
                    #expect(
                        !text.lowercased().contains(planted.lowercased()),
                        "\(label): public text leaks \(planted): \(text)")
                }
                #expect(!text.contains("\n"), "\(label): public text is not one line")
            }
            #expect(
                PublicProblem.catalog.contains(failure.problem), "\(label): \(failure.problem) is not in the catalog")
            #expect(failure.correlationID == id)
            if duringAuthentication {
                #expect(failure.problem == .authenticationFailed, "\(label) during sign-in rendered \(failure.problem)")
            } else if !mapped {
                #expect(failure.problem == .internalError, "\(label) is unmapped but rendered \(failure.problem)")
            }

            // The log side.
            let logText = try #require(
                capture.logText(for: id), "\(label): no single log entry with the correlation id")
            #expect(logText.contains(id.rawValue))
            #expect(logText.contains("<redacted:secret>"), "\(label): \(logText)")
            #expect(logText.contains("<redacted:phi>"), "\(label): \(logText)")
            #expect(logText.contains("<redacted:field-name>"), "\(label): \(logText)")
            #expect(logText.contains("SELECT id FROM notes WHERE chart = $1"), "\(label): internal detail missing")
            #expect(logText.contains("/srv/portal/chart.sqlite"), "\(label): internal detail missing")
            for planted in Planted.contextValues {
                #expect(!logText.contains(planted), "\(label): log leaks redacted context value \(planted)")
            }
            if !mapped {
                // By default an unmapped error's description (which may hold PHI) is not logged.
                for planted in Planted.errorValues {
                    #expect(!logText.contains(planted), "\(label): log leaks \(planted) from an unmapped error")
                }
                #expect(logText.contains("[unmapped]"))
            }
            // Headers: only the two known names, an integer delay and the configured challenge.
            for header in failure.headers {
                switch header.name {
                case PublicHeader.retryAfterName:
                    #expect(!header.value.isEmpty && header.value.allSatisfy(\.isASCII) && Int(header.value) != nil)
                    #expect(failure.status == 429, "\(label): Retry-After on a \(failure.status)")
                case PublicHeader.wwwAuthenticateName:
                    #expect(header.value == ErrorReporter.Configuration.defaultAuthenticationChallenge)
                    #expect(failure.status == 401, "\(label): WWW-Authenticate on a \(failure.status)")
                default:
                    Issue.record("\(label): unexpected header \(header)")
                }
            }
            #expect(
                failure.status != 401 || failure.headers.contains { $0.name == PublicHeader.wwwAuthenticateName },
                "\(label): a 401 without WWW-Authenticate")
        }
    }

    @Test("DecodingError logs the coding path but never the offending value")
    func decodingErrorLog() throws {
        let capture = CapturingReporter()
        let id = CorrelationID()
        do {
            _ = try JSONDecoder().decode(TypedBody.self, from: Data(#"{"ssn": "219-09-9999"}"#.utf8))
            Issue.record("decoding should fail")
        } catch {
            let failure = capture.reporter.report(error, correlationID: id)
            #expect(failure.problem == .invalidRequest)
        }
        let logText = try #require(capture.logText(for: id))
        #expect(logText.contains("request.type_mismatch"))
        #expect(logText.contains("ssn"))
        #expect(!logText.contains("219-09-9999"))
    }

    @Test("mapped PHIGuard errors log their internal code and safe description")
    func passwordErrorLogDetail() throws {
        let capture = CapturingReporter()
        let id = CorrelationID()
        capture.reporter.report(PasswordHashingError.malformedHash(.salt), correlationID: id)
        let entry = try #require(capture.entries(for: id).first)
        #expect(entry.metadata["error.internal_code"] == "password.malformed_hash")
        #expect(entry.metadata["error.code"] == "internal_error")
        #expect(entry.metadata["error.status"] == "500")
        #expect(entry.level == .error)
        #expect("\(entry.message)" == "malformed password hash: salt")
        #expect(entry.metadata["error.context"] == .dictionary(["reason": "salt"]))
    }

    @Test("an app may opt in to logging unmapped descriptions; the public side stays generic")
    func unmappedDescriptionOptIn() throws {
        let capture = CapturingReporter(configuration: .init(unmappedErrorDetail: .typeNameAndDescription))
        let id = CorrelationID()
        let failure = capture.reporter.report(
            PlantedEnumError.rowFailed(patientName: "Pat Example", query: "UPDATE x"), correlationID: id)
        #expect(failure.problem == .internalError)
        #expect(!failure.problemJSON.contains("Pat Example"))
        let logText = try #require(capture.logText(for: id))
        #expect(logText.contains("Pat Example"))
        #expect(logText.contains("PlantedEnumError"))
    }

    @Test("log lines cannot be split by control characters in context or messages")
    func logInjection() throws {
        let capture = CapturingReporter()
        let id = CorrelationID()
        capture.reporter.report(
            PasswordHashingError.invalidParameters("bad\nFAKE ENTRY correlation_id=x"),
            context: ["route\r\nX": .value("/a\nb\u{2028}c\u{202E}d")], correlationID: id)
        let logText = try #require(capture.logText(for: id))
        #expect(!logText.contains("\n"))
        #expect(!logText.contains("\r"))
        #expect(!logText.contains("\u{2028}"))
        #expect(!logText.contains("\u{202E}"))
    }
}
