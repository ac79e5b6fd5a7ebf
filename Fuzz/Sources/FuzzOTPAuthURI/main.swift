import FuzzDriver
import PHIGuardTOTP

// otpauth:// URIs come from enrolment round trips and imports. A URI that parses must render to one
// that parses again.
/// libFuzzer calls this once per input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let uri = try? OTPAuthURI(parsing: fuzzText(data, size)) else { return 0 }
    guard (try? OTPAuthURI(parsing: (try? uri.revealString()) ?? "")) != nil else {
        fuzzFinding("a parsed URI did not re-parse")
    }
    _ = try? TOTPEnrollment(pending: uri)
    return 0
}

/// The entry point SwiftPM links as `main`: runs libFuzzer.
@_cdecl("FuzzOTPAuthURI_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}
