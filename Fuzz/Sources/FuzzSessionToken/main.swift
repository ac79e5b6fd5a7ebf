import FuzzDriver
import PHIGuardAuthentication

// Session cookies come from the client. Property: a value that parses is the canonical spelling of
// its own bytes (no second spelling reaches the same session).
/// libFuzzer calls this once per input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = fuzzText(data, size)
    if let token = SessionToken(cookieValue: text), token.cookieValue != text {
        fuzzFinding("a non-canonical cookie value was accepted")
    }
    return 0
}

/// The entry point SwiftPM links as `main`: runs libFuzzer.
@_cdecl("FuzzSessionToken_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}
