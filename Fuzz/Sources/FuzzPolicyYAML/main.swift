import FuzzDriver
import PHIGuardAccess

// Policy files are written by people: any text must load or give problems, never trap or hang.
// (How many problems are reported, and where, is checked by the unit tests.)
/// libFuzzer calls this once per input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    _ = try? CompiledPolicy(yaml: fuzzText(data, size))
    return 0
}

/// The entry point SwiftPM links as `main`: runs libFuzzer.
@_cdecl("FuzzPolicyYAML_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}
