import Testing
@testable import CapnetBase

@Suite struct SeededRandomTests {
    @Test func sameSeedSameSequence() {
        var a = SeededRandom(seed: 42)
        var b = SeededRandom(seed: 42)
        for _ in 0..<100 {
            let x = a.next()
            let y = b.next()
            #expect(x == y)
        }
    }

    @Test func differentSeedsDiffer() {
        var a = SeededRandom(seed: 1)
        var b = SeededRandom(seed: 2)
        let x = a.next()
        let y = b.next()
        #expect(x != y)
    }

    @Test func chanceMatchesProbability() {
        var random = SeededRandom(seed: 7)
        let trials = 100_000
        var hits = 0
        for _ in 0..<trials where random.chance(0.2) { hits += 1 }
        // Binomial(100000, 0.2) has a standard deviation of about 126.
        #expect(abs(hits - 20_000) < 1_000)
        let never = random.chance(0)
        let always = random.chance(1)
        #expect(!never)
        #expect(always)
    }
}

@Suite struct LoggerTests {
    @Test func timestampFormat() {
        // 2026-12-04T20:30:01.123Z as nanoseconds since the epoch.
        let nanos: Int64 = 1_796_416_201_123_000_000
        #expect(Logger.formatTimestamp(nanos) == "2026-12-04T20:30:01.123Z")
    }

    @Test func levelNamesParse() {
        #expect(LogLevel(name: "DEBUG") == .debug)
        #expect(LogLevel(name: "verbose") == nil)
    }

    @Test func rateLimiterSuppressesBurst() {
        var limiter = LogRateLimiter(interval: .seconds(1), burst: 2)
        let start = Instant(nanoseconds: 10_000_000_000)
        let first = limiter.allow(now: start)
        let second = limiter.allow(now: start)
        let third = limiter.allow(now: start)
        #expect(first)
        #expect(second)
        #expect(!third)
        var reported = 0
        let afterWindow = limiter.allow(now: start + .seconds(2), onSuppressed: { reported = $0 })
        #expect(afterWindow)
        #expect(reported == 1)
    }
}
