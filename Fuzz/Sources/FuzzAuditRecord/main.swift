import Foundation
import FuzzDriver
import PHIGuardAudit

// Audit records are read back from files and databases an attacker may have edited: decoding must
// throw, never trap.
/// libFuzzer calls this once per input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    _ = try? JSONDecoder().decode(AuditRecord.self, from: Data(fuzzInput(data, size)))
    return 0
}

/// The entry point SwiftPM links as `main`: runs libFuzzer.
@_cdecl("FuzzAuditRecord_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}
