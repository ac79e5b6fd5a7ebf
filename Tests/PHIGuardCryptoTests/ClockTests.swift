import Foundation
import Testing

@testable import PHIGuardCrypto

@Suite("The package clock")
struct ClockTests {
    @Test("The system clock's wall reading is nanoseconds since 1970; its monotonic reading never goes back")
    func systemClock() {
        let clock = SystemClock()
        let expected = Date().timeIntervalSince1970 * 1e9
        #expect(abs(Double(clock.wallClockNanoseconds()) - expected) < 5e9)
        #expect(abs(clock.now.timeIntervalSince(Date())) < 5)
        let first = clock.monotonicNanoseconds()
        #expect(clock.monotonicNanoseconds() >= first)
    }

    @Test("A manual clock moves both readings together, and only forward")
    func manualClock() {
        let clock = ManualClock(wallClockNanoseconds: 1_000, monotonicNanoseconds: 50)
        clock.advance(by: .milliseconds(3))
        #expect(clock.wallClockNanoseconds() == 3_001_000)
        #expect(clock.monotonicNanoseconds() == 3_000_050)
        clock.advance(by: .seconds(-1))
        #expect(clock.wallClockNanoseconds() == 3_001_000)
        clock.set(wallClockNanoseconds: 4_001_000)
        #expect(clock.monotonicNanoseconds() == 4_000_050)
        clock.set(wallClockNanoseconds: 0)  // the wall clock set back: the monotonic reading stays
        #expect(clock.wallClockNanoseconds() == 0)
        #expect(clock.monotonicNanoseconds() == 4_000_050)
    }

    @Test("Dates convert to and from wall-clock nanoseconds")
    func dates() {
        let date = Date(timeIntervalSince1970: 1_800_000_000.25)
        let clock = ManualClock(date)
        #expect(clock.wallClockNanoseconds() == 1_800_000_000_250_000_000)
        #expect(clock.now == date)
        clock.set(Date(timeIntervalSince1970: 1_800_000_060.25))
        #expect(clock.monotonicNanoseconds() == 1_000_000_000_000 + 60_000_000_000)
        #expect(ManualClock().now == Date(timeIntervalSince1970: 1_800_000_000))
        #expect(Date(wallClockNanoseconds: -1_500_000_000) == Date(timeIntervalSince1970: -1.5))
    }

    @Test("Durations convert to nanoseconds (saturating) and to seconds in one place")
    func durations() {
        #expect(Duration.milliseconds(1_500).nanoseconds == 1_500_000_000)
        #expect(Duration.seconds(Int64.max).nanoseconds == Int64.max)
        #expect(Duration.seconds(Int64.min).nanoseconds == Int64.min)
        #expect(Duration.milliseconds(1_500).seconds == 1.5)
        #expect(Date(timeIntervalSince1970: 10).adding(.milliseconds(250)) == Date(timeIntervalSince1970: 10.25))
    }
}
