import CapnetBase
import HostSim
import Testing
@testable import NetStack

/// Segment arrival rules on an established connection: RFC 9293 §3.10.7.4,
/// RFC 5961, RFC 7323 PAWS, RFC 2018 SACK.
@Suite struct TCPSegmentRuleTests {
    static func read(_ socket: TCPSocket?) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { (try? socket?.read(into: $0)) ?? 0 }
        return Array(buffer[0..<n])
    }

    @Test func resetInWindowNotAtNextGetsChallengeAck() {
        // RFC 5961 §3.2: RST inside the window but not at RCV.NXT -> challenge ACK, no reset.
        let script = TCPScript()
        script.handshake()
        let replies = script.send(script.segment(.rst, seq: script.peerNext + 100, options: TCPOptions()))
        #expect(replies.count == 1)
        let ack = replies.first?.header
        #expect(ack?.flags == .ack)
        #expect(ack?.acknowledgmentNumber == script.peerNext)
        #expect(ack?.sequenceNumber == script.layerNext)
        #expect(script.socket?.state == .established)
        #expect(script.layer.counters.challengeAcksSent == 1)
        #expect(script.layer.counters[drop: .resetChallenged] == 1)
    }

    @Test func resetAtNextResetsConnection() {
        // RFC 5961 §3.2 / RFC 9293 §3.10.7.4 second check: RST at RCV.NXT.
        let script = TCPScript()
        script.handshake()
        let replies = script.send(script.segment(.rst, options: TCPOptions()))
        #expect(replies.isEmpty)
        #expect(script.socket?.state == .closed)
        #expect(script.socket?.error == .connectionReset)
    }

    @Test func resetOutsideWindowIsIgnored() {
        let script = TCPScript()
        script.handshake()
        let replies = script.send(script.segment(.rst, seq: script.peerNext + 10_000_000, options: TCPOptions()))
        #expect(replies.isEmpty)
        #expect(script.socket?.state == .established)
        #expect(script.layer.counters[drop: .resetOutsideWindow] == 1)
    }

    @Test func synOnEstablishedGetsChallengeAck() {
        // RFC 5961 §4.2: any SYN in a synchronized state -> challenge ACK.
        let script = TCPScript()
        script.handshake()
        let replies = script.send(script.segment(.syn, seq: script.peerNext + 5, ack: TCPSeq(0)))
        #expect(replies.first?.header.flags == .ack)
        #expect(replies.first?.header.acknowledgmentNumber == script.peerNext)
        #expect(script.socket?.state == .established)
        #expect(script.layer.counters[drop: .synChallenged] == 1)
    }

    @Test func challengeAcksAreRateLimited() {
        // RFC 5961 §7: at most challengeAckLimit per second.
        let script = TCPScript { $0.challengeAckLimit = 3 }
        script.handshake()
        for i in 0..<10 { script.send(script.segment(.rst, seq: script.peerNext + 100 + i, options: TCPOptions())) }
        #expect(script.layer.counters.challengeAcksSent == 3)
        #expect(script.layer.counters[drop: .challengeAckRateLimited] == 7)
        script.advance(by: .seconds(1))
        script.send(script.segment(.rst, seq: script.peerNext + 100, options: TCPOptions()))
        #expect(script.layer.counters.challengeAcksSent == 4)
    }

    @Test func ackForUnsentDataIsAnsweredAndDropped() {
        // RFC 5961 §5.2 / RFC 9293 §3.10.7.4: SEG.ACK > SND.NXT -> ACK and drop the segment.
        let script = TCPScript()
        script.handshake()
        let replies = script.send(script.segment([.ack, .psh], ack: script.layerNext + 5000), payload: [1, 2, 3])
        #expect(replies.first?.header.acknowledgmentNumber == script.peerNext)
        #expect(Self.read(script.socket).isEmpty)
        #expect(script.layer.counters[drop: .unacceptableAck] == 1)
    }

    @Test func outOfWindowSegmentGetsAck() {
        // RFC 9293 §3.10.7.4 first check: unacceptable segment -> <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
        let script = TCPScript()
        script.handshake()
        let replies = script.send(script.segment([.ack, .psh], seq: script.peerNext - 5000), payload: [9, 9])
        #expect(replies.first?.header.acknowledgmentNumber == script.peerNext)
        #expect(script.layer.counters[drop: .outsideWindow] == 1)
    }

    @Test func pawsDropsStaleTimestamp() {
        // RFC 7323 §5.3: TSval older than TS.Recent -> drop, send ACK.
        let script = TCPScript()
        script.handshake()
        script.peerClock = 5000
        script.sendData(Array("fresh".utf8))
        #expect(Self.read(script.socket) == Array("fresh".utf8))

        let stale = script.segment([.ack, .psh], timestamp: 4000)
        let replies = script.send(stale, payload: Array("stale".utf8))
        #expect(replies.count == 1)
        #expect(replies.first?.header.acknowledgmentNumber == script.peerNext)
        #expect(Self.read(script.socket).isEmpty)
        #expect(script.layer.counters[drop: .pawsRejected] == 1)
    }

    @Test func missingTimestampIsDropped() {
        // RFC 7323 §3.2: once negotiated, a non-RST segment without TSopt is dropped.
        let script = TCPScript()
        script.handshake()
        script.send(script.segment([.ack, .psh], options: TCPOptions()), payload: [1])
        #expect(Self.read(script.socket).isEmpty)
        #expect(script.layer.counters[drop: .missingTimestamp] == 1)
    }

    @Test func outOfOrderDataGetsSackBlocks() {
        // RFC 2018 §4: the first block reports the most recently received segment.
        let script = TCPScript()
        script.handshake()
        let base = script.peerNext
        let first = script.send(script.segment([.ack], seq: base + 100), payload: [UInt8](repeating: 1, count: 100))
        #expect(first.first?.header.acknowledgmentNumber == base)
        #expect(first.first?.header.options.sackBlocks == [TCPSackBlock(left: base + 100, right: base + 200)])

        let second = script.send(script.segment([.ack], seq: base + 300), payload: [UInt8](repeating: 3, count: 100))
        #expect(second.first?.header.options.sackBlocks == [TCPSackBlock(left: base + 300, right: base + 400),
                                                            TCPSackBlock(left: base + 100, right: base + 200)])

        // Filling the first hole acknowledges through 200 at once and leaves one block.
        let third = script.send(script.segment([.ack], seq: base), payload: [UInt8](repeating: 0, count: 100))
        #expect(third.first?.header.acknowledgmentNumber == base + 200)
        #expect(third.first?.header.options.sackBlocks == [TCPSackBlock(left: base + 300, right: base + 400)])
        #expect(Self.read(script.socket).count == 200)
    }

    @Test func earlyFinBeforeHoleWaitsForData() {
        // RFC 9293 §3.10.7.4 eighth check: a FIN is processed only once all data before it arrived.
        let script = TCPScript()
        script.handshake()
        let base = script.peerNext
        let early = script.send(script.segment([.ack, .fin], seq: base + 5), payload: Array("world".utf8))
        #expect(early.first?.header.acknowledgmentNumber == base)
        #expect(script.socket?.state == .established)
        #expect(script.socket?.isEndOfStream == false)

        let fill = script.send(script.segment([.ack], seq: base), payload: Array("hello".utf8))
        #expect(fill.first?.header.acknowledgmentNumber == base + 11)  // 10 bytes and the FIN
        #expect(script.socket?.state == .closeWait)
        #expect(script.socket?.state.description == "CLOSE-WAIT")
        #expect(Self.read(script.socket) == Array("helloworld".utf8))
        #expect(script.socket?.isEndOfStream == true)
    }

    @Test func sackScoreboardDrivesRetransmission() {
        // RFC 6675 §5: three SACKed segments above a hole mark it lost; it is resent first.
        let script = TCPScript()
        script.handshake()
        let socket = script.socket!  // handshake succeeded
        let data = [UInt8](repeating: 0x42, count: 10 * 1448)
        _ = data.withUnsafeBytes { try? socket.write($0) }
        let flight = script.peer.pollDue()
        #expect(flight.count == 10)
        let start = script.layerNext
        // Segment 0 lost; segments 1, 2, 3 SACKed in three duplicate ACKs.
        var retransmitted: [CapturedSegment] = []
        for k in 1...3 {
            let block = TCPSackBlock(left: start + 1448, right: start + 1448 * (k + 1))
            var options = TCPOptions(sackBlocks: [block])
            options.timestamps = TCPTimestamps(value: script.peerClock, echoReply: script.layerTimestamp)
            retransmitted += script.send(script.segment(.ack, ack: start, options: options))
        }
        let resent = retransmitted.first { $0.header.sequenceNumber == start && $0.payload.count == 1448 }
        #expect(resent != nil)
        #expect(script.layer.counters.retransmittedSegments == 1)
    }
}

extension TCPSegmentRuleTests {
    @Test func windowScaleAndSequenceWrap() {
        // RFC 7323 §2.3: the peer's window field is shifted by its scale; RFC 9293 §3.4 wraps modulo 2^32.
        let script = TCPScript(timestamps: false)
        script.peerNext = TCPSeq(0xFFFF_FFC0)
        let replies = script.send(script.segment(.syn, ack: TCPSeq(0), options: script.synOptions(windowScale: 7)))
        let synAck = replies.first
        #expect(synAck?.header.options.windowScale == 3)
        script.peerNext = script.peerNext + 1
        script.layerNext = (synAck?.header.sequenceNumber ?? TCPSeq(0)) + 1
        // Window field 4 with shift 7 offers 512 bytes.
        script.send(script.segment(.ack, window: 4))
        script.socket = script.listener?.accept()
        #expect(script.socket?.info?.sendWindow == 512)
        let written = TCPTimerTests.write(script.socket, [UInt8](repeating: 5, count: 2000))
        #expect(written == 2000)
        // Sender SWS avoidance (RFC 9293 §3.8.6.2.1): 512 bytes is under half the
        // largest window seen (65535 in the SYN), so only the override timer sends it.
        #expect(script.peer.pollDue().isEmpty)
        let sent = script.advance(by: .seconds(1))
        #expect(sent.map(\.payload.count).reduce(0, +) == 512)

        // 200 bytes from the peer cross 2^32.
        let data = TCPTestSupport.bytes(count: 200, seed: 8)
        let ack = script.sendData(data, window: 4)
        #expect(script.peerNext.rawValue < 0x100)
        _ = ack
        #expect(Self.read(script.socket) == data)
    }

    @Test func broadcastSourceIsDropped() {
        // RFC 1122 §4.2.3.10: no connection from a broadcast or multicast address.
        let script = TCPScript()
        var output = TCPScriptedPeerSink()
        let header = TCPHeaderRepr(sourcePort: 1, destinationPort: 80, sequenceNumber: TCPSeq(1), flags: .syn, window: 100)
        var bytes = [UInt8](repeating: 0, count: header.headerLength)
        bytes.withUnsafeMutableBytes {
            header.emit(into: $0)
            TCPHeaderRepr.fillChecksum(segment: $0, source: .broadcast, destination: TCPScript.layerAddress)
        }
        bytes.withUnsafeBytes {
            script.layer.receive(source: .broadcast, destination: TCPScript.layerAddress, payload: $0,
                                 now: script.now, output: &output)
        }
        #expect(output.datagrams == 0)
        #expect(script.layer.counters[drop: .invalidSource] == 1)
    }
}

/// An output that only counts datagrams.
struct TCPScriptedPeerSink: IPv4Output {
    var datagrams = 0
    mutating func send(source: IPv4Address, destination: IPv4Address, protocolNumber: IPProtocol,
                       payloadLength: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) -> Bool {
        datagrams += 1
        return true
    }
}

extension TCPSegmentRuleTests {
    @Test func newRenoRetransmitsOnPartialAck() {
        // RFC 5681 §3.2: the third duplicate ACK retransmits SND.UNA.
        // RFC 6582 §3.2 step 5: a partial ACK retransmits the next hole at once.
        let script = TCPScript(timestamps: false) { $0.congestionControl = .newReno }
        script.handshake(options: script.synOptions(sack: false))
        let socket = script.socket!  // handshake succeeded
        let segment = 1460
        let data = [UInt8](repeating: 0x33, count: 10 * segment)
        _ = data.withUnsafeBytes { try? socket.write($0) }
        let flight = script.peer.pollDue()
        #expect(flight.count == 10)
        let start = script.layerNext

        // Segments 0 and 4 are lost; segments 1, 2 and 3 each bring a duplicate ACK.
        var fastRetransmit: [CapturedSegment] = []
        for _ in 0..<3 { fastRetransmit += script.send(script.segment(.ack, ack: start)) }
        #expect(fastRetransmit.first?.header.sequenceNumber == start)
        #expect(script.layer.counters.fastRetransmits == 1)
        let info = socket.info
        // ssthresh = FlightSize / 2 = 5 segments (RFC 5681 §3.2 step 2).
        #expect(info?.slowStartThreshold == 5 * segment)

        // The retransmission fills hole 0: the ACK covers segments 0 to 3 only.
        let partial = script.send(script.segment(.ack, ack: start + 4 * segment))
        #expect(partial.first?.header.sequenceNumber == start + 4 * segment)
        #expect(partial.first?.payload.count == segment)
        #expect(script.layer.counters.retransmissionTimeouts == 0)
    }

    @Test func sackOnDataSegmentsStartsRecovery() {
        // RFC 6675 §2: ACKs that SACK new data count as duplicates even when the
        // peer sends data with them and its window moves, as in an echo stream.
        let script = TCPScript(timestamps: false)
        script.handshake(options: script.synOptions(sack: true))
        let socket = script.socket!  // handshake succeeded
        let segment = 1460
        let data = [UInt8](repeating: 0x44, count: 10 * segment)
        _ = data.withUnsafeBytes { try? socket.write($0) }
        let flight = script.peer.pollDue()
        #expect(flight.count == 10)
        let start = script.layerNext

        // Segment 0 is lost. Segments 1 to 4 arrive, and each reply carries
        // 100 bytes of the peer's data, a growing window and a SACK block.
        var replies: [CapturedSegment] = []
        for index in 1...4 {
            let window = UInt16(60_000 + index * 1000)
            var header = script.segment([.ack, .psh], ack: start, window: window)
            header.options.sackBlocks = [TCPSackBlock(left: start + segment, right: start + (index + 1) * segment)]
            script.peerNext = script.peerNext + 100
            replies += script.send(header, payload: [UInt8](repeating: 0x55, count: 100))
        }
        #expect(script.layer.counters.fastRetransmits == 1)
        #expect(replies.contains { $0.header.sequenceNumber == start && $0.payload.count == segment })
        #expect(script.layer.counters.retransmissionTimeouts == 0)
    }
}
