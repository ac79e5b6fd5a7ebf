import FuzzDriver
import PHIGuardTOTP

// TOTP secrets arrive as Base32 text. Property: whatever decodes re-encodes to text that decodes to
// the same bytes.
/// libFuzzer calls this once per input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = fuzzText(data, size)
    guard let bytes = try? Base32.decode(text) else { return 0 }
    for padded in [false, true] {
        guard let again = try? Base32.decode(Base32.encode(bytes, padded: padded)), again == bytes else {
            fuzzFinding("Base32 round trip (padded: \(padded)) changed \(bytes.count) bytes")
        }
    }
    _ = try? TOTPSecret(bytes: bytes)
    return 0
}

/// The entry point SwiftPM links as `main`: runs libFuzzer.
@_cdecl("FuzzBase32_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}
