import FuzzDriver
import PHIGuardAuthentication

// Login names come from sign-in and registration forms. Properties (RFC 8265 stability): the
// canonical form is a fixed point, and it is accepted as stored canonical text.
/// libFuzzer calls this once per input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let name = try? LoginName(fuzzText(data, size)) else { return 0 }
    guard let again = try? LoginName(name.value), again.value == name.value else {
        fuzzFinding("the canonical login name is not a fixed point")
    }
    guard LoginName(canonical: name.value) != nil else { fuzzFinding("a canonical name is refused as canonical") }
    _ = name.skeleton
    return 0
}

/// The entry point SwiftPM links as `main`: runs libFuzzer.
@_cdecl("FuzzLoginName_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}
