// The chart history: rates from totals, one sample per interval, and the
// ring bound of ten minutes.
import CapnetBase
import Testing
@testable import WebUI

@Suite struct StatusHistoryTests {
    private let start = Instant(nanoseconds: 1_000_000_000)

    @Test func ratesFromTotals() {
        var history = StatusHistory()
        history.record(.init(packets: 100, handshakes: 10, connections: 1), at: start)
        #expect(history.count == 0)
        history.record(.init(packets: 400, handshakes: 16, connections: 3), at: start + .seconds(2))
        let sample = history.samples[0]
        #expect(sample.packetsPerSecond == 150)
        #expect(sample.handshakesPerSecond == 3)
        #expect(sample.connections == 3)
    }

    @Test func callsWithinTheIntervalAreIgnored() {
        var history = StatusHistory()
        history.record(.init(packets: 0, handshakes: 0, connections: 0), at: start)
        history.record(.init(packets: 50, handshakes: 0, connections: 0), at: start + .milliseconds(500))
        #expect(history.count == 0)
        history.record(.init(packets: 100, handshakes: 0, connections: 0), at: start + .seconds(1))
        #expect(history.count == 1)
        #expect(history.samples[0].packetsPerSecond == 100)
    }

    @Test func counterResetGivesZero() {
        var history = StatusHistory()
        history.record(.init(packets: 500, handshakes: 5, connections: 0), at: start)
        history.record(.init(packets: 10, handshakes: 1, connections: 0), at: start + .seconds(1))
        #expect(history.samples[0].packetsPerSecond == 0)
        #expect(history.samples[0].handshakesPerSecond == 0)
    }

    @Test func keepsTheLastTenMinutes() {
        #expect(StatusHistory.maximumSamples == 600)
        var history = StatusHistory()
        let extra = 25
        for second in 0...(StatusHistory.maximumSamples + extra) {
            history.record(.init(packets: UInt64(second * second), handshakes: 0, connections: second),
                           at: start + .seconds(Int64(second)))
        }
        #expect(history.count == StatusHistory.maximumSamples)
        let samples = history.samples
        // Oldest first: the first `extra` samples were overwritten.
        #expect(samples.first?.connections == extra + 1)
        #expect(samples.last?.connections == StatusHistory.maximumSamples + extra)
        #expect(zip(samples, samples.dropFirst()).allSatisfy { $0.time < $1.time })
        let report = HistoryReport(history)
        #expect(report.points.count == 600)
        #expect(report.points.last?.ageSeconds == 0)
        #expect(report.points.first?.ageSeconds == 599)
    }
}
