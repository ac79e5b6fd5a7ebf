// The libFuzzer entry point shared by every target. SwiftPM renames an executable's `main` to
// `<Target>_main` (and links `main` to it), so each target exports that name and hands libFuzzer's
// own driver the target's `LLVMFuzzerTestOneInput`.

/// libFuzzer's driver (compiler-rt, LLVM 11 and later): parses the libFuzzer flags and runs `callback`.
@_silgen_name("LLVMFuzzerRunDriver")
private func llvmFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// Runs libFuzzer with the process's arguments and `callback` as the target.
public func runFuzzer(
    _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt {
    var count = argc
    var arguments = argv
    return llvmFuzzerRunDriver(&count, &arguments, callback)
}

/// The input as bytes (libFuzzer may pass a null pointer for the empty input).
public func fuzzInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}

/// The input as text, replacing invalid UTF-8 the way a web framework or a file reader would.
public func fuzzText(_ data: UnsafePointer<UInt8>?, _ size: Int) -> String {
    String(decoding: fuzzInput(data, size), as: UTF8.self)
}

/// Stops the run with a finding (libFuzzer saves the input that caused it).
public func fuzzFinding(_ message: String) -> Never {
    fatalError("fuzz finding: \(message)")
}
