import CapnetBase
import Testing
@testable import NetStack

@Suite struct ICMPRateLimiterTests {
    static let start = Instant(nanoseconds: 7_000_000_000)

    @Test func burstThenSustainedRate() {
        var limiter = ICMPRateLimiter(configuration: .init(messagesPerSecond: 2, burst: 3))
        var allowed = 0
        for _ in 0..<10 {
            let ok = limiter.allow(now: Self.start)
            if ok { allowed += 1 }
        }
        #expect(allowed == 3)
        // Half a second buys one token at 2 per second.
        let afterHalfSecond = limiter.allow(now: Self.start + .milliseconds(500))
        let again = limiter.allow(now: Self.start + .milliseconds(500))
        #expect(afterHalfSecond)
        #expect(!again)
    }

    @Test func quietPeriodRefillsOnlyToBurst() {
        var limiter = ICMPRateLimiter(configuration: .init(messagesPerSecond: 1000, burst: 4))
        for _ in 0..<4 { _ = limiter.allow(now: Self.start) }
        var allowed = 0
        for _ in 0..<10 {
            let ok = limiter.allow(now: Self.start + .seconds(60))
            if ok { allowed += 1 }
        }
        #expect(allowed == 4)
    }

    @Test func linuxDefaults() {
        let configuration = ICMPRateLimiter.Configuration()
        #expect(configuration.messagesPerSecond == 1000)
        #expect(configuration.burst == 50)
    }
}
