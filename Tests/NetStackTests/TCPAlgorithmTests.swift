import CapnetBase
import Testing
@testable import NetStack

/// The building blocks on their own: RTO estimator, congestion control,
/// SACK scoreboard, out-of-order assembler and ring buffer.
@Suite struct TCPAlgorithmTests {
    static let mss = 1000

    @Test func rtoFollowsRFC6298() {
        var configuration = TCPTestSupport.configuration(address: TCPTestSupport.serverAddress)
        configuration.minimumRTO = .milliseconds(200)
        var estimator = TCPRTTEstimator(configuration: configuration)
        // §2.1: 1 s before any sample.
        #expect(estimator.rto == .seconds(1))
        // §2.2: SRTT = R, RTTVAR = R/2, RTO = SRTT + 4 * RTTVAR = 3R.
        estimator.sample(.milliseconds(100))
        #expect(estimator.smoothedRTT == .milliseconds(100))
        #expect(estimator.rttVariance == .milliseconds(50))
        #expect(estimator.rto == .milliseconds(300))
        // §2.3: RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 62.5; SRTT = 7/8 * 100 + 1/8 * 200 = 112.5.
        estimator.sample(.milliseconds(200))
        #expect(estimator.rttVariance == .microseconds(62_500))
        #expect(estimator.smoothedRTT == .microseconds(112_500))
        #expect(estimator.rto == .microseconds(362_500))
        // §5.5: backoff doubles; the maximum caps it.
        estimator.backOff()
        #expect(estimator.rto == .microseconds(725_000))
        for _ in 0..<20 { estimator.backOff() }
        #expect(estimator.rto == .seconds(60))
        // §2.4: never below the minimum.
        estimator.sample(.milliseconds(1))
        #expect(estimator.rto >= .milliseconds(200))
    }

    @Test func slowStartAndNewRenoAvoidance() {
        var control = TCPCongestionControl(algorithm: .newReno, mss: Self.mss)
        #expect(control.congestionWindow == 10 * Self.mss)  // RFC 6928 IW
        control.onAck(ackedBytes: 3000, now: .zero, smoothedRTT: nil)
        #expect(control.congestionWindow == 11 * Self.mss)  // RFC 5681 §3.1: at most SMSS per ACK

        // RFC 5681 §3.2: ssthresh = max(FlightSize / 2, 2 * SMSS).
        control.onCongestionEvent(flightSize: 20 * Self.mss)
        #expect(control.slowStartThreshold == 10 * Self.mss)
        #expect(control.congestionWindow == 10 * Self.mss)
        // Congestion avoidance: one SMSS per window of acknowledged bytes.
        for _ in 0..<10 { control.onAck(ackedBytes: Self.mss, now: .zero, smoothedRTT: nil) }
        #expect(control.congestionWindow == 11 * Self.mss)

        // RFC 5681 §3.1: after an RTO, cwnd is one segment (the loss window).
        control.onRetransmitTimeout(flightSize: 8 * Self.mss)
        #expect(control.congestionWindow == Self.mss)
        #expect(control.slowStartThreshold == 4 * Self.mss)
    }

    @Test func cubicReducesByBetaAndReturnsToWmax() {
        var control = TCPCongestionControl(algorithm: .cubic, mss: Self.mss)
        // Grow to 100 segments in slow start.
        while control.congestionWindow < 100 * Self.mss {
            control.onAck(ackedBytes: Self.mss, now: .zero, smoothedRTT: nil)
        }
        #expect(control.congestionWindow == 100 * Self.mss)
        // RFC 9438 §4.6: cwnd = ssthresh = 0.7 * cwnd.
        control.onCongestionEvent(flightSize: 100 * Self.mss)
        #expect(control.congestionWindow == 70 * Self.mss)
        #expect(control.slowStartThreshold == 70 * Self.mss)

        // RFC 9438 §4.2: K = cbrt((100 - 70) / 0.4) ≈ 4.22 s; at t = K the window is back near W_max.
        let rtt = Nanoseconds.milliseconds(100)
        var now = Instant(nanoseconds: 1_000_000_000)
        for _ in 0..<42 {
            let acks = control.congestionWindow / Self.mss
            for _ in 0..<acks { control.onAck(ackedBytes: Self.mss, now: now, smoothedRTT: rtt) }
            now = now + rtt
        }
        let segments = Double(control.congestionWindow) / Double(Self.mss)
        #expect(segments > 95)
        #expect(segments < 106)
    }

    @Test func scoreboardMarksLossAndPipe() {
        var board = TCPSackScoreboard()
        let una = TCPSeq(1000)
        let max = una + 10 * Self.mss
        // Segments 1, 2 and 3 SACKed; segment 0 is the hole.
        board.update(blocks: [TCPSackBlock(left: una + 1000, right: una + 4000)], sendUnacknowledged: una, sendMax: max)
        // RFC 6675 §4 IsLost: more than (3 - 1) * SMSS bytes SACKed above.
        #expect(board.lossBoundary(mss: Self.mss) == una + 1000)
        let next = board.nextLostSegment(sendUnacknowledged: una, mss: Self.mss)
        #expect(next?.0 == una)
        #expect(next?.1 == Self.mss)
        // Pipe: 6 segments past the SACKed range, not lost; the hole is lost and not yet resent.
        #expect(board.pipe(sendUnacknowledged: una, sendMax: max, mss: Self.mss) == 6 * Self.mss)
        board.highRetransmitted = una + 1000
        #expect(board.pipe(sendUnacknowledged: una, sendMax: max, mss: Self.mss) == 7 * Self.mss)
        #expect(board.nextLostSegment(sendUnacknowledged: una, mss: Self.mss) == nil)
        // Blocks outside (SND.UNA, SND.MAX] are ignored.
        let added = board.update(blocks: [TCPSackBlock(left: max, right: max + 100)], sendUnacknowledged: una, sendMax: max)
        #expect(!added)
        // A cumulative ACK prunes.
        board.prune(below: una + 3000)
        #expect(board.ranges.count == 1)
        #expect(board.ranges.first?.left == una + 3000)
    }

    @Test func assemblerMergesAndBoundsRanges() {
        var assembler = TCPAssembler(maximumRanges: 2)
        let base = TCPSeq(0xFFFF_FF00)  // crosses the 2^32 wrap
        let firstInserted = assembler.insert(left: base + 100, right: base + 200)
        let secondInserted = assembler.insert(left: base + 300, right: base + 400)
        #expect(firstInserted)
        #expect(secondInserted)
        // A third disjoint range exceeds the bound and is refused.
        let third = assembler.insert(left: base + 500, right: base + 600)
        #expect(!third)
        // An adjacent range merges.
        let merged = assembler.insert(left: base + 200, right: base + 300)
        #expect(merged)
        #expect(assembler.ranges.count == 1)
        #expect(assembler.heldBytes == 300)
        let next = assembler.advance(receiveNext: base + 100)
        #expect(next == base + 400)
        #expect(assembler.isEmpty)
    }

    @Test func ringBufferWrapsAndGrowsWithinBudget() {
        var budget = TCPMemoryBudget(limit: 8192)
        var ring = TCPRingBuffer(maximumCapacity: 16384)
        let first = [UInt8](0..<200).map { UInt8($0) }
        let taken = first.withUnsafeBytes { ring.append($0, budget: &budget) }
        #expect(taken == 200)
        #expect(ring.capacity == TCPRingBuffer.initialCapacity)
        var sink = [UInt8](repeating: 0, count: 150)
        let read = sink.withUnsafeMutableBytes { ring.read(into: $0) }
        #expect(read == 150)
        #expect(sink == Array(first[0..<150]))

        // Fill past the end so the data wraps, then grow: the order survives.
        let big = TCPTestSupport.bytes(count: 4000, seed: 4)
        let bigTaken = big.withUnsafeBytes { ring.append($0, budget: &budget) }
        #expect(bigTaken == 4000)
        let more = TCPTestSupport.bytes(count: 3000, seed: 5)
        let moreTaken = more.withUnsafeBytes { ring.append($0, budget: &budget) }
        #expect(moreTaken == 3000)
        #expect(ring.capacity == 8192)
        #expect(budget.inUse == 8192)
        // The budget is spent: no further growth, so writes stop at capacity.
        let extra = TCPTestSupport.bytes(count: 2000, seed: 6)
        let partial = extra.withUnsafeBytes { ring.append($0, budget: &budget) }
        #expect(partial == 8192 - 50 - 7000)
        var all = [UInt8](repeating: 0, count: 8192)
        let total = all.withUnsafeMutableBytes { ring.read(into: $0) }
        #expect(total == 8192)
        #expect(Array(all[0..<50]) == Array(first[150..<200]))
        #expect(Array(all[50..<4050]) == big)
        #expect(Array(all[4050..<7050]) == more)
        ring.release(budget: &budget)
        #expect(budget.inUse == 0)
    }
}
