import FuzzDriver
import PHIGuardFieldEncryption

// Envelopes are read from database columns anyone with write access can change. The first input byte
// picks the form (binary or text); the rest is the envelope, opened with a fixed key (the seeds are
// real envelopes under that key, so the fuzzer also reaches the authenticated-decryption path).
let encryptor: FieldEncryptor = {
    var bytes = [UInt8](repeating: 7, count: 32)
    guard let key = try? FieldKey(id: "k1", bytes: &bytes), let keyring = try? Keyring(active: key) else {
        fuzzFinding("the fixed fuzzing key was refused")
    }
    return FieldEncryptor(keyring: keyring)
}()
let context = FieldContext(table: "charts", recordID: "c-1", field: "notes")

/// libFuzzer calls this once per input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    guard let form = input.first else { return 0 }
    let body = Array(input.dropFirst())
    if form & 1 == 0 {
        _ = try? FieldEnvelope(bytes: body)
        _ = try? encryptor.decrypt(bytes: body, context: context)
    } else {
        let text = String(decoding: body, as: UTF8.self)
        _ = try? FieldEnvelope(text: text)
        _ = try? encryptor.decrypt(text: text, context: context)
    }
    return 0
}

/// The entry point SwiftPM links as `main`: runs libFuzzer.
@_cdecl("FuzzFieldEnvelope_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}
