import FuzzDriver
import PHIGuardPasswords

// Stored password hashes are read from the database: any text must parse or throw, never trap.
/// libFuzzer calls this once per input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    _ = try? PHCString(parsing: fuzzText(data, size))
    return 0
}

/// The entry point SwiftPM links as `main`: runs libFuzzer.
@_cdecl("FuzzPHCString_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}
