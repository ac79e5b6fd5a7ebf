import PHIGuardTOTP
import PHIGuardTesting
import Testing

@Suite("In-memory TOTP replay and recovery-code stores")
struct TOTPStoreConformanceTests {
    @Test("InMemoryTOTPReplayStore passes the replay-store conformance suite")
    func replay() async throws {
        try await TOTPReplayStoreConformance.check(InMemoryTOTPReplayStore())
    }

    @Test("InMemoryRecoveryCodeStore passes the recovery-code-store conformance suite")
    func recovery() async throws {
        try await RecoveryCodeStoreConformance.check(InMemoryRecoveryCodeStore())
    }
}
