import CapnetBase
import HostSim
import Testing
@testable import NetStack

/// Opening connections: RFC 9293 §3.5, §3.10.7.1–3, RFC 4987 SYN cookies.
@Suite struct TCPHandshakeTests {
    @Test func synToClosedPortGetsResetAck() {
        // RFC 9293 §3.10.7.1: no ACK bit -> <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
        let script = TCPScript(listen: false)
        let replies = script.send(script.segment(.syn, ack: TCPSeq(0), options: script.synOptions()))
        #expect(replies.count == 1)
        let reset = replies.first?.header
        #expect(reset?.flags == [.rst, .ack])
        #expect(reset?.sequenceNumber == TCPSeq(0))
        #expect(reset?.acknowledgmentNumber == TCPScript.peerISN + 1)
        #expect(script.layer.counters[reset: .closedPort] == 1)
        #expect(script.layer.counters[drop: .noSocket] == 1)
    }

    @Test func ackToClosedPortGetsResetAtAck() {
        // RFC 9293 §3.10.7.1: ACK bit on -> <SEQ=SEG.ACK><CTL=RST>.
        let script = TCPScript(listen: false)
        let replies = script.send(script.segment(.ack, ack: TCPSeq(0xABCD_0000)), payload: [1, 2, 3])
        let reset = replies.first?.header
        #expect(reset?.flags == .rst)
        #expect(reset?.sequenceNumber == TCPSeq(0xABCD_0000))
    }

    @Test func resetToClosedPortIsNotAnswered() {
        let script = TCPScript(listen: false)
        let replies = script.send(script.segment([.rst, .ack]))
        #expect(replies.isEmpty)
    }

    @Test func corruptChecksumIsDroppedAndCounted() {
        let script = TCPScript()
        var bytes = [UInt8](repeating: 0, count: 20)
        let header = script.segment(.syn, ack: TCPSeq(0), options: TCPOptions())
        bytes.withUnsafeMutableBytes { header.emit(into: $0) }
        bytes[16] = 0x12
        bytes[17] = 0x34
        let replies = script.peer.sendRaw(bytes)
        #expect(replies.isEmpty)
        #expect(script.layer.counters[drop: .badChecksum] == 1)
        let truncated = script.peer.sendRaw(Array(bytes[0..<12]))
        #expect(truncated.isEmpty)
        #expect(script.layer.counters[drop: .malformed] == 1)
    }

    @Test func passiveOpenNegotiatesOptions() {
        // RFC 9293 §3.5, RFC 7323 §2.2 and §3.2, RFC 2018 §2.
        let script = TCPScript()
        let synAck = script.handshake(options: script.synOptions(mss: 1400, windowScale: 7))
        let options = synAck?.header.options
        #expect(synAck?.header.acknowledgmentNumber == TCPScript.peerISN + 1)
        #expect(options?.maximumSegmentSize == 1460)  // MTU 1500 - 40
        #expect(options?.windowScale == 3)  // 262144 >> 2 is 65536, one past the 16-bit field
        #expect(options?.sackPermitted == true)
        #expect(options?.timestamps?.echoReply == 1000)
        let socket = script.socket
        #expect(socket != nil)
        #expect(socket?.state == .established)
        #expect(socket?.state.description == "ESTABLISHED")
        let info = socket?.info
        // Eff.snd.MSS = min(1400, 1460) - 12 bytes of timestamps (RFC 9293 §3.7.1).
        #expect(info?.sendMSS == 1388)
        #expect(script.layer.counters.passiveOpens == 1)
    }

    @Test func peerWithoutOptionsGetsNone() {
        // RFC 7323 §1.3 and RFC 2018 §2: no option in the SYN-ACK that the SYN lacked;
        // no MSS option means 536 (RFC 9293 §3.7.1).
        let script = TCPScript(timestamps: false)
        let synAck = script.handshake(options: TCPOptions())
        let options = synAck?.header.options
        #expect(options?.windowScale == nil)
        #expect(options?.sackPermitted == false)
        #expect(options?.timestamps == nil)
        #expect(script.socket?.info?.sendMSS == 536)

        // Data is cut into 536-byte segments.
        let socket = script.socket!  // handshake succeeded above
        let data = [UInt8](repeating: 7, count: 2000)
        let written = data.withUnsafeBytes { (try? socket.write($0)) ?? 0 }
        #expect(written == 2000)
        let segments = script.peer.pollDue()
        let sizes = segments.map(\.payload.count)
        #expect(sizes == [536, 536, 536])
        // Nagle (RFC 9293 §3.7.4) keeps the short tail back until the ACK.
        script.layerNext = script.layerNext + 1608
        let tail = script.send(script.segment(.ack))
        #expect(tail.map(\.payload.count) == [392])
    }

    @Test func activeOpenAndSimultaneousOpen() {
        // RFC 9293 §3.5 Figure 8: both sides send SYN, and each replies with SYN-ACK.
        let script = TCPScript(listen: false)
        let socket = try! script.layer.connect(to: IPv4Endpoint(address: TCPScript.peerAddress, port: script.peerPort),
                                               localPort: script.layerPort, now: script.now)  // fresh layer
        let syns = script.peer.pollDue()
        script.note(syns)
        #expect(syns.count == 1)
        let syn = syns.first?.header
        #expect(syn?.flags == .syn)
        #expect(socket.state == .synSent)
        #expect(socket.state.description == "SYN-SENT")
        let iss = syn?.sequenceNumber ?? TCPSeq(0)

        // The peer's own SYN crosses ours.
        let replies = script.send(script.segment(.syn, ack: TCPSeq(0), options: script.synOptions()))
        #expect(socket.state == .synReceived)
        let synAck = replies.first?.header
        #expect(synAck?.flags == [.syn, .ack])
        #expect(synAck?.sequenceNumber == iss)
        #expect(synAck?.acknowledgmentNumber == TCPScript.peerISN + 1)

        // The peer's SYN-ACK completes it.
        script.peerNext = TCPScript.peerISN
        script.layerNext = iss + 1
        script.send(script.segment([.syn, .ack], options: script.synOptions()))
        #expect(socket.state == .established)
        #expect(socket.readiness.contains(.connected))
        #expect(socket.readiness.contains(.writable))
    }

    @Test func activeOpenRefusedByReset() {
        // RFC 9293 §3.10.7.3: RST with an acceptable ACK in SYN-SENT.
        let script = TCPScript(listen: false)
        let socket = try! script.layer.connect(to: IPv4Endpoint(address: TCPScript.peerAddress, port: script.peerPort),
                                               localPort: script.layerPort, now: script.now)  // fresh layer
        let iss = script.peer.pollDue().first?.header.sequenceNumber ?? TCPSeq(0)
        script.peer.send(script.segment([.rst, .ack], seq: TCPSeq(0), ack: iss + 1, options: TCPOptions()))
        #expect(socket.state == .closed)
        #expect(socket.error == .connectionRefused)
        #expect(socket.readiness.contains(.failed))
    }

    @Test func synRetransmitsWithBackoffThenTimesOut() {
        // RFC 6298 §5.5 and §5.7: SYN retransmitted at 1, 2, 4 ... s; gives up after synRetries.
        let script = TCPScript(listen: false) { $0.synRetries = 3 }
        let socket = try! script.layer.connect(to: IPv4Endpoint(address: TCPScript.peerAddress, port: script.peerPort),
                                               now: script.now)  // fresh layer
        let first = script.peer.pollDue()
        #expect(first.count == 1)
        var times: [Instant] = [first[0].time]
        for _ in 0..<4 {
            times.append(contentsOf: script.advance(by: .seconds(20)).map(\.time))
        }
        let gaps = zip(times.dropFirst(), times).map { ($0 - $1).seconds }
        #expect(gaps == [1, 2, 4])
        #expect(socket.error == .timedOut)
    }

    @Test func synFloodEngagesCookiesAndLegitimateClientConnects() {
        // RFC 4987 §3.6: with the SYN queue full, SYN-ACKs carry cookies and keep no state.
        let script = TCPScript(peerPort: 50000) { $0.synQueueLimit = 8 }
        for i in 0..<200 {
            let header = TCPHeaderRepr(sourcePort: UInt16(1000 + i), destinationPort: 80,
                                       sequenceNumber: TCPSeq(UInt32(i) * 7919), flags: .syn, window: 1024,
                                       options: TCPOptions(maximumSegmentSize: 1460))
            script.peer.send(header)
        }
        let listenerInfo = script.layer.listenerInfos().first
        #expect(listenerInfo?.synQueue == 8)
        #expect(script.layer.counters.synCookiesSent == 192)
        #expect(script.layer.connectionCount == 8)

        // A legitimate client still gets through, on a cookie.
        let synAck = script.handshake(options: script.synOptions(mss: 1460, windowScale: 5))
        #expect(synAck != nil)
        #expect(script.layer.counters.synCookiesValidated == 1)
        let socket = script.socket
        #expect(socket?.state == .established)
        // Window scale and SACK survived in the timestamp bits.
        #expect(socket.map { script.layer.entries[$0.id]?.connection.sendShift } == 5)
        #expect(socket.map { script.layer.entries[$0.id]?.connection.sackEnabled } == true)
        #expect(socket?.info?.sendMSS == 1448)

        // Data flows.
        let replies = script.sendData(Array("hello".utf8))
        _ = replies
        var buffer = [UInt8](repeating: 0, count: 16)
        let n = buffer.withUnsafeMutableBytes { (try? socket?.read(into: $0)) ?? 0 }
        #expect(n == 5)
    }

    @Test func forgedCookieAckGetsReset() {
        let script = TCPScript { $0.synQueueLimit = 0 }
        script.send(script.segment(.syn, ack: TCPSeq(0), options: script.synOptions()))
        #expect(script.layer.counters.synCookiesSent == 1)
        script.peerNext = TCPScript.peerISN + 1
        let replies = script.send(script.segment(.ack, ack: TCPSeq(0x1234_5678)))
        #expect(replies.first?.header.flags == .rst)
        #expect(script.layer.counters[drop: .invalidCookie] == 1)
        #expect(script.layer.connectionCount == 0)
    }
}

extension TCPHandshakeTests {
    @Test func rtoIsThreeSecondsAfterSynTimeout() {
        // RFC 6298 §5.7: a retransmitted SYN leaves no RTT sample (Karn), so data starts at 3 s.
        let script = TCPScript(timestamps: false, listen: false)
        let socket = try! script.layer.connect(to: IPv4Endpoint(address: TCPScript.peerAddress, port: script.peerPort),
                                               localPort: script.layerPort, now: script.now)  // fresh layer
        script.peer.pollDue()
        let resent = script.advance(by: .milliseconds(1500))
        #expect(resent.count == 1)
        let iss = resent.first?.header.sequenceNumber ?? TCPSeq(0)
        script.layerNext = iss + 1
        script.send(script.segment([.syn, .ack], options: TCPOptions(maximumSegmentSize: 1460)))
        #expect(socket.state == .established)
        #expect(socket.info?.smoothedRTT == nil)
        #expect(socket.info?.rto == .seconds(3))
    }
}
