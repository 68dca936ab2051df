import CapnetBase
import HostSim
import Testing
@testable import NetStack

/// Closing: RFC 9293 §3.6 (half-close, simultaneous close), §3.10.4, TIME-WAIT.
@Suite struct TCPCloseTests {
    static func read(_ socket: TCPSocket?) -> [UInt8] { TCPSegmentRuleTests.read(socket) }
    static func write(_ socket: TCPSocket?, _ bytes: [UInt8]) -> Int { TCPTimerTests.write(socket, bytes) }

    @Test func halfCloseKeepsSendingAfterPeerFin() {
        // RFC 9293 §3.6: after the peer's FIN (CLOSE-WAIT) this side may still send.
        let script = TCPScript(timestamps: false)
        script.handshake()
        let finAck = script.sendData([], flags: [.ack, .fin])
        #expect(finAck.first?.header.acknowledgmentNumber == script.peerNext)
        #expect(script.socket?.state == .closeWait)
        #expect(script.socket?.isEndOfStream == true)

        #expect(Self.write(script.socket, Array("late reply".utf8)) == 10)
        let data = script.peer.pollDue()
        #expect(data.first?.payload == Array("late reply".utf8))
        script.layerNext = script.layerNext + 10
        script.send(script.segment(.ack))

        script.socket?.close()
        let fin = script.peer.pollDue()
        #expect(fin.first?.header.flags.contains(.fin) == true)
        #expect(script.layer.entries.values.first?.connection.state == .lastAck)
        script.layerNext = script.layerNext + 1
        script.send(script.segment(.ack))
        #expect(script.layer.connectionCount == 0)
    }

    @Test func shutdownHalfClosesThenReadsPeerData() {
        // RFC 9293 §3.6: FIN-WAIT-1 -> FIN-WAIT-2, receiving continues.
        let script = TCPScript(timestamps: false)
        script.handshake()
        script.socket?.shutdown()
        let fin = script.peer.pollDue()
        #expect(fin.first?.header.flags == [.ack, .fin])
        #expect(script.socket?.state == .finWait1)
        script.layerNext = script.layerNext + 1
        script.send(script.segment(.ack))
        #expect(script.socket?.state == .finWait2)
        #expect(script.socket?.state.description == "FIN-WAIT-2")

        script.sendData(Array("still here".utf8))
        #expect(Self.read(script.socket) == Array("still here".utf8))
        let writeError: TCPError?
        do { _ = try script.socket?.write(UnsafeRawBufferPointer(start: nil, count: 0)); writeError = nil } catch { writeError = error }
        #expect(writeError == .writeAfterShutdown)
    }

    @Test func simultaneousCloseGoesThroughClosing() {
        // RFC 9293 §3.6 Figure 13: FIN-WAIT-1 -> CLOSING -> TIME-WAIT.
        let script = TCPScript(timestamps: false)
        script.handshake()
        script.socket?.close()
        let fin = script.peer.pollDue()
        #expect(fin.first?.header.flags.contains(.fin) == true)
        // The peer's FIN crosses ours, not yet acknowledging it.
        script.sendData([], flags: [.ack, .fin])
        #expect(script.layer.entries.values.first?.connection.state == .closing)
        script.layerNext = script.layerNext + 1
        script.send(script.segment(.ack))
        #expect(script.layer.entries.values.first?.connection.state == .timeWait)
    }

    @Test func timeWaitLastsTwoMSLAndReacksFin() {
        // RFC 9293 §3.6 and §3.10.7.4: TIME-WAIT for 2 MSL; a retransmitted FIN is ACKed and restarts it.
        let script = TCPScript(timestamps: false) { $0.maximumSegmentLifetime = .seconds(30) }
        script.handshake()
        script.socket?.close()
        script.peer.pollDue()
        script.layerNext = script.layerNext + 1
        script.send(script.segment(.ack))
        script.sendData([], flags: [.ack, .fin])
        #expect(script.layer.entries.values.first?.connection.state == .timeWait)
        #expect(script.layer.entries.values.first?.connection.state.description == "TIME-WAIT")

        script.advance(by: .seconds(40))
        let again = script.send(script.segment([.ack, .fin], seq: script.peerNext - 1))
        #expect(again.first?.header.acknowledgmentNumber == script.peerNext)
        script.advance(by: .seconds(59))
        #expect(script.layer.connectionCount == 1)
        script.advance(by: .seconds(2))
        #expect(script.layer.connectionCount == 0)
    }

    @Test func closeWithUnreadDataSendsReset() {
        // RFC 9293 §3.10.4 / RFC 2525 §2.17: unread data on close -> RST.
        let script = TCPScript(timestamps: false)
        script.handshake()
        script.sendData(Array("unread".utf8))
        script.socket?.close()
        let reset = script.peer.pollDue()
        #expect(reset.first?.header.flags.contains(.rst) == true)
        #expect(script.layer.counters[reset: .closedWithUnreadData] == 1)
        #expect(script.layer.connectionCount == 0)
    }

    @Test func abortSendsResetAndFrees() {
        // RFC 9293 §3.10.5 ABORT.
        let script = TCPScript(timestamps: false)
        script.handshake()
        script.socket?.abort()
        let reset = script.peer.pollDue()
        #expect(reset.first?.header.flags == [.rst, .ack])
        #expect(reset.first?.header.sequenceNumber == script.layerNext)
        #expect(script.layer.counters[reset: .userAbort] == 1)
        #expect(script.layer.connectionCount == 0)
        #expect(script.layer.memoryBudget.inUse == 0)
    }

    @Test func keepaliveProbesThenTimesOut() {
        // RFC 9293 §3.8.4 / RFC 1122 §4.2.3.6: off by default; probes SEG.SEQ = SND.NXT - 1.
        let script = TCPScript(timestamps: false) {
            $0.keepaliveIdle = .seconds(60)
            $0.keepaliveInterval = .seconds(10)
            $0.keepaliveProbes = 3
        }
        script.handshake()
        #expect(script.advance(by: .seconds(600)).isEmpty)  // off by default
        script.socket?.setKeepalive(true, now: script.now)
        let probes = script.advance(by: .seconds(200))
        #expect(probes.count == 3)
        #expect(probes.allSatisfy { $0.header.sequenceNumber == script.layerNext - 1 })
        #expect(probes.allSatisfy { $0.payload.isEmpty })
        #expect(script.socket?.error == .timedOut)
    }
}

extension TCPCloseTests {
    @Test func timeWaitReleasesBufferMemory() {
        let script = TCPScript(timestamps: false)
        script.handshake()
        #expect(script.layer.memoryBudget.inUse > 0)
        script.socket?.close()
        script.peer.pollDue()
        script.layerNext = script.layerNext + 1
        script.send(script.segment(.ack))
        script.sendData([], flags: [.ack, .fin])
        #expect(script.layer.entries.values.first?.connection.state == .timeWait)
        #expect(script.layer.memoryBudget.inUse == 0)
        // A retransmitted FIN still gets an ACK.
        let again = script.send(script.segment([.ack, .fin], seq: script.peerNext - 1))
        #expect(again.first?.header.acknowledgmentNumber == script.peerNext)
    }
}

extension TCPCloseTests {
    @Test func newSynReopensTimeWaitConnection() {
        // RFC 9293 §3.6.1 / RFC 6191: a SYN beyond the old RCV.NXT may start a new
        // incarnation while the old one is in TIME-WAIT.
        let script = TCPScript(timestamps: false)
        script.handshake()
        script.socket?.close()
        script.peer.pollDue()
        script.layerNext = script.layerNext + 1
        script.send(script.segment(.ack))
        script.sendData([], flags: [.ack, .fin])
        #expect(script.layer.entries.values.first?.connection.state == .timeWait)

        let replies = script.send(script.segment(.syn, seq: script.peerNext + 100_000, ack: TCPSeq(0),
                                                 options: script.synOptions()))
        let synAck = replies.first?.header
        #expect(synAck?.flags == [.syn, .ack])
        #expect(synAck?.acknowledgmentNumber == script.peerNext + 100_001)
        #expect(script.layer.entries.values.first?.connection.state == .synReceived)

        // An old SYN (below RCV.NXT) does not; it gets a challenge ACK instead.
        let other = TCPScript(timestamps: false)
        other.handshake()
        other.socket?.close()
        other.peer.pollDue()
        other.layerNext = other.layerNext + 1
        other.send(other.segment(.ack))
        other.sendData([], flags: [.ack, .fin])
        let old = other.send(other.segment(.syn, seq: other.peerNext - 10, ack: TCPSeq(0), options: other.synOptions()))
        #expect(old.first?.header.flags == .ack)
        #expect(other.layer.entries.values.first?.connection.state == .timeWait)
    }
}
