import CapnetBase
import HostSim
import Testing
@testable import NetStack

/// Timers and send policy: RFC 6298 (RTO, Karn), RFC 9293 §3.8.6
/// (persist, delayed ACK, SWS), §3.7.4 (Nagle).
@Suite struct TCPTimerTests {
    static func write(_ socket: TCPSocket?, _ bytes: [UInt8]) -> Int {
        bytes.withUnsafeBytes { (try? socket?.write($0)) ?? 0 } ?? 0
    }

    @Test func zeroWindowIsProbedWithBackoff() {
        // RFC 9293 §3.8.6.1: with a zero window, probe after the RTO and back off.
        let script = TCPScript(timestamps: false)
        script.handshake(window: 0)
        _ = Self.write(script.socket, [UInt8](repeating: 1, count: 3000))
        let immediate = script.peer.pollDue()
        #expect(immediate.isEmpty)

        var probes: [CapturedSegment] = []
        for _ in 0..<4 {
            let sent = script.advance(by: .seconds(20))
            probes += sent
            // Reply to each probe with a zero window again.
            if !sent.isEmpty { script.send(script.segment(.ack, window: 0)) }
        }
        #expect(probes.count >= 3)
        #expect(probes.allSatisfy { $0.payload.count == 1 })
        #expect(probes.allSatisfy { $0.header.sequenceNumber == script.layerNext })
        let times = probes.map(\.time)
        let gaps = zip(times.dropFirst(), times).map { ($0 - $1).seconds }
        // Intervals double: 2 s, 4 s, 8 s after the first probe at RTO (1 s).
        #expect(gaps.prefix(2) == [2, 4])

        // Opening the window resumes sending after the probe byte; Nagle
        // keeps the short tail back until the full segments are acknowledged.
        let resumed = script.send(script.segment(.ack, window: 65535))
        #expect(resumed.first?.header.sequenceNumber == script.layerNext + 1)
        #expect(resumed.map(\.payload.count) == [1460, 1460])
        script.layerNext = script.layerNext + 2921
        let tail = script.send(script.segment(.ack, window: 65535))
        #expect(tail.map(\.payload.count) == [79])
    }

    @Test func retransmissionTimeoutBacksOff() {
        // RFC 6298 §5.5: each expiry doubles the RTO (1 s, 2 s, 4 s, 8 s).
        // Tail loss probes would add a segment before the first RTO.
        let script = TCPScript(timestamps: false) { $0.enableTailLossProbe = false }
        script.handshake()
        _ = Self.write(script.socket, Array("ping".utf8))
        let first = script.peer.pollDue()
        #expect(first.count == 1)
        var times = first.map(\.time)
        times += script.advance(by: .seconds(16)).map(\.time)
        let gaps = zip(times.dropFirst(), times).map { ($0 - $1).seconds }
        #expect(gaps == [1, 2, 4, 8])
        #expect(script.socket?.info?.rto == .seconds(16))
    }

    @Test func karnsRuleSkipsRetransmittedSamples() {
        // RFC 6298 §3 (Karn): an ACK for retransmitted data gives no RTT sample.
        let script = TCPScript(timestamps: false) { $0.enableTailLossProbe = false }
        script.handshake()
        // The SYN-ACK was answered at once: the first sample is 0 ms.
        let beforeRTT = script.socket?.info?.smoothedRTT
        #expect(beforeRTT == .zero)
        _ = Self.write(script.socket, Array("data".utf8))
        script.peer.pollDue()
        let resent = script.advance(by: .milliseconds(1500))
        #expect(resent.count == 1)
        script.layerNext = script.layerNext + 4
        script.send(script.segment(.ack))
        #expect(script.socket?.info?.smoothedRTT == beforeRTT)

        // A fresh segment acknowledged without retransmission is sampled.
        _ = Self.write(script.socket, Array("more".utf8))
        script.peer.pollDue()
        script.advance(by: .milliseconds(300))
        script.layerNext = script.layerNext + 4
        script.send(script.segment(.ack))
        // RFC 6298 §2.3: SRTT = 7/8 * 0 ms + 1/8 * 300 ms.
        #expect(script.socket?.info?.smoothedRTT == .microseconds(37_500))
    }

    @Test func tailLossProbeResendsLastSegment() {
        // RFC 8985 §7.2: with one segment in flight the probe timeout is
        // 2 * SRTT + 200 ms (SRTT is 0 after an instant handshake), well
        // before the 1 s RTO. §7.3: with no new data, the last segment goes again.
        let script = TCPScript(timestamps: false)
        script.handshake()
        _ = Self.write(script.socket, Array("ping".utf8))
        let first = script.peer.pollDue()
        #expect(first.count == 1)
        let probe = script.advance(by: .milliseconds(500))
        #expect(probe.count == 1)
        #expect(probe.first?.header.sequenceNumber == first.first?.header.sequenceNumber)
        #expect(probe.first?.payload == Array("ping".utf8))
        if let sent = first.first?.time, let probed = probe.first?.time {
            #expect(probed - sent == .milliseconds(201))
        }
        #expect(script.layer.counters.tailLossProbes == 1)
        #expect(script.layer.counters.retransmissionTimeouts == 0)
        // One probe per tail: the RTO, restarted by the probe, comes next.
        let later = script.advance(by: .milliseconds(1500))
        #expect(later.count == 1)
        #expect(script.layer.counters.tailLossProbes == 1)
        #expect(script.layer.counters.retransmissionTimeouts == 1)
    }

    @Test func tailLossProbeSendsNewDataFirst() {
        // RFC 8985 §7.3: unsent data that the peer's window admits is the
        // probe, although the congestion window does not allow it yet.
        let script = TCPScript(timestamps: false)
        script.handshake()
        _ = Self.write(script.socket, [UInt8](repeating: 7, count: 40_000))
        let flight = script.peer.pollDue()
        #expect(!flight.isEmpty)
        let flightEnd = flight.last.map { $0.header.sequenceNumber + $0.payload.count }
        let probe = script.advance(by: .milliseconds(100))
        #expect(probe.count == 1)
        #expect(probe.first?.header.sequenceNumber == flightEnd)
        #expect(script.layer.counters.tailLossProbes == 1)
    }

    @Test func noTailLossProbeWithoutSack() {
        let script = TCPScript(timestamps: false) { $0.enableSack = false }
        script.handshake()
        _ = Self.write(script.socket, Array("ping".utf8))
        script.peer.pollDue()
        #expect(script.advance(by: .milliseconds(900)).isEmpty)
        #expect(script.layer.counters.tailLossProbes == 0)
    }

    @Test func delayedAckWaitsThenAcksEverySecondSegment() {
        // RFC 9293 §3.8.6.3 / RFC 5681 §4.2: delay at most 500 ms; ACK every second full segment.
        let script = TCPScript(timestamps: false)
        script.handshake()
        let one = script.sendData([UInt8](repeating: 1, count: 100))
        #expect(one.isEmpty)
        let delayed = script.advance(by: .milliseconds(500))
        #expect(delayed.count == 1)
        #expect(delayed.first?.header.acknowledgmentNumber == script.peerNext)
        #expect(delayed.first.map { $0.time - TCPScript.startTime(script) } == .milliseconds(200))

        let full = [UInt8](repeating: 2, count: 1460)
        let firstFull = script.sendData(full)
        #expect(firstFull.isEmpty)
        let secondFull = script.sendData(full)
        #expect(secondFull.count == 1)
        #expect(secondFull.first?.header.acknowledgmentNumber == script.peerNext)
    }

    @Test func nagleHoldsSmallSegmentsUntilAck() {
        // RFC 9293 §3.7.4: one small segment outstanding at a time, unless disabled.
        let script = TCPScript(timestamps: false)
        script.handshake()
        _ = Self.write(script.socket, [1])
        #expect(script.peer.pollDue().count == 1)
        _ = Self.write(script.socket, [2])
        _ = Self.write(script.socket, [3])
        #expect(script.peer.pollDue().isEmpty)
        script.layerNext = script.layerNext + 1
        let afterAck = script.send(script.segment(.ack))
        #expect(afterAck.map(\.payload) == [[2, 3]])

        script.socket?.setNoDelay(true)
        script.layerNext = script.layerNext + 2
        script.send(script.segment(.ack))
        _ = Self.write(script.socket, [4])
        _ = Self.write(script.socket, [5])
        // With TCP_NODELAY each write leaves at once (polled after each write here).
        let sent = script.peer.pollDue()
        #expect(sent.map(\.payload.count).reduce(0, +) == 2)
    }

    @Test func receiverWindowStaysHonest() {
        // RFC 9293 §3.8.6.2.2: the window never offers more than free buffer space.
        let script = TCPScript(timestamps: false) { $0.receiveBufferSize = 8192 }
        script.handshake()
        var offered = 8192
        var sent = 0
        for _ in 0..<20 {
            let chunk = min(1000, offered)
            if chunk == 0 { break }
            let replies = script.sendData([UInt8](repeating: 7, count: chunk))
            sent += chunk
            if let ack = replies.last ?? script.advance(by: .milliseconds(250)).last {
                offered = Int(ack.header.window)
                #expect(offered + sent <= 8192)
            }
        }
        #expect(sent == 8192)
        #expect(offered == 0)
        #expect(script.socket?.readableBytes == 8192)
    }
}

extension TCPScript {
    /// When the last peer segment went in, for delay measurements.
    static func startTime(_ script: TCPScript) -> Instant { script.lastSendTime }
}
