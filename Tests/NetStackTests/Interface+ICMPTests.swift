import CapnetBase
import HostSim
import NIC
import Testing
@testable import NetStack

@Suite struct InterfaceICMPTests {
    @Test func pingGetsReplyByteForByte() throws {
        let harness = try InterfaceHarness()
        harness.learnPeer()
        let sent = harness.exchange(ScapyVectors.echoRequest)
        #expect(sent.map(hex) == [hex(ScapyVectors.echoReply)])
        #expect(harness.interface.counters.icmpEchoRequestsReceived == 1)
        #expect(harness.interface.counters.icmpEchoRepliesSent == 1)
    }

    @Test func fragmentedPingIsAnsweredFragmented() throws {
        let harness = try InterfaceHarness()
        harness.learnPeer()
        let sent = harness.exchange(ScapyVectors.bigEchoRequestFragment0, ScapyVectors.bigEchoRequestFragment1,
                                    ScapyVectors.bigEchoRequestFragment2)
        #expect(sent.map(hex) == [ScapyVectors.bigEchoReplyFragment0, ScapyVectors.bigEchoReplyFragment1,
                                  ScapyVectors.bigEchoReplyFragment2].map(hex))
        #expect(harness.interface.counters.ipv4DatagramsReassembled == 1)
        #expect(harness.interface.counters.ipv4DatagramsFragmented == 1)
        #expect(harness.interface.counters.ipv4FragmentsSent == 3)
    }

    @Test func outOfOrderFragmentsAreReassembled() throws {
        let harness = try InterfaceHarness()
        harness.learnPeer()
        let sent = harness.exchange(ScapyVectors.bigEchoRequestFragment2, ScapyVectors.bigEchoRequestFragment0,
                                    ScapyVectors.bigEchoRequestFragment1)
        #expect(sent.count == 3)
        #expect(sent.first.map(hex) == hex(ScapyVectors.bigEchoReplyFragment0))
    }

    /// A 4008-octet payload (ICMP header and 4000 data octets) at MTU 1500:
    /// 1480 + 1480 + 1048 octets at offsets 0, 185 and 370 units (RFC 791 §3.2).
    @Test func fragmentOffsetsAndFlags() throws {
        let harness = try InterfaceHarness()
        harness.learnPeer()
        let sent = harness.exchange(ScapyVectors.bigEchoRequestFragment0, ScapyVectors.bigEchoRequestFragment1,
                                    ScapyVectors.bigEchoRequestFragment2)
        let headers = try sent.map { frame in try withBytes(Array(frame.dropFirst(14))) { try IPv4Repr.parse($0) } }
        #expect(headers.map(\.fragmentOffset) == [0, 185, 370])
        #expect(headers.map(\.moreFragments) == [true, true, false])
        #expect(headers.map(\.payloadLength) == [1480, 1480, 1048])
        #expect(Set(headers.map(\.identification)) == [TestAddresses.firstIdentification])
        #expect(headers.allSatisfy { !$0.dontFragment })
        let joined = sent.flatMap { $0.dropFirst(14 + 20) }
        #expect(joined == Array(ScapyVectors.bigEchoReplyWhole.dropFirst(20)))
    }

    @Test func reassemblyTimeoutSendsTimeExceeded() throws {
        let harness = try InterfaceHarness()
        harness.learnPeer()
        #expect(harness.exchange(ScapyVectors.bigEchoRequestFragment0).isEmpty)
        #expect(harness.advance(by: .seconds(29)).isEmpty)
        let sent = harness.advance(by: .seconds(1))
        #expect(sent.map(hex) == [hex(ScapyVectors.reassemblyTimeExceeded)])
        #expect(harness.interface.counters[drop: .reassemblyTimeout] == 1)
    }

    @Test func timeoutWithoutFragmentZeroIsSilent() throws {
        let harness = try InterfaceHarness()
        harness.learnPeer()
        harness.exchange(ScapyVectors.bigEchoRequestFragment1Alone)
        #expect(harness.advance(by: .seconds(30)).isEmpty)
        #expect(harness.interface.counters[drop: .reassemblyTimeout] == 1)
    }

    @Test func noTimeExceededAboutICMPError() throws {
        let harness = try InterfaceHarness()
        harness.learnPeer()
        harness.exchange(ScapyVectors.fragmentedICMPErrorFragment0)
        #expect(harness.advance(by: .seconds(30)).isEmpty)
        #expect(harness.interface.counters[drop: .reassemblyTimeout] == 1)
    }

    @Test func overlappingFragmentDropsPing() throws {
        let harness = try InterfaceHarness()
        harness.learnPeer()
        // Fragment 1 again with its offset moved back by one unit overlaps fragment 0.
        var overlapping = ScapyVectors.bigEchoRequestFragment1
        let offsetField = 14 + 6
        overlapping[offsetField + 1] -= 1
        overlapping[14 + 10] = 0
        overlapping[14 + 11] = 0
        let checksum = withBytes(Array(overlapping[14..<34])) { InternetChecksum.compute($0) }
        overlapping[14 + 10] = UInt8(checksum >> 8)
        overlapping[14 + 11] = UInt8(checksum & 0xFF)
        let sent = harness.exchange(ScapyVectors.bigEchoRequestFragment0, overlapping,
                                    ScapyVectors.bigEchoRequestFragment1, ScapyVectors.bigEchoRequestFragment2)
        #expect(sent.isEmpty)
        #expect(harness.interface.counters[drop: .reassemblyOverlap] == 1)
        #expect(harness.interface.counters[drop: .reassemblyDiscardedDatagram] == 2)
    }

    @Test func echoToBroadcastIsIgnored() throws {
        let harness = try InterfaceHarness()
        harness.learnPeer()
        #expect(harness.exchange(ScapyVectors.echoRequestToBroadcast).isEmpty)
        #expect(harness.interface.counters[drop: .icmpEchoToBroadcast] == 1)
    }

    @Test func unknownProtocolGetsProtocolUnreachable() throws {
        let harness = try InterfaceHarness()
        harness.learnPeer()
        let sent = harness.exchange(ScapyVectors.unknownProtocol)
        #expect(sent.map(hex) == [hex(ScapyVectors.protocolUnreachable)])
        #expect(harness.interface.counters[drop: .ipv4UnknownProtocol] == 1)
    }

    @Test func errorsAreRateLimited() throws {
        let harness = try InterfaceHarness { $0.icmpRateLimit = .init(messagesPerSecond: 1, burst: 2) }
        harness.learnPeer()
        let sent = harness.exchange(ScapyVectors.udpToClosedPort, ScapyVectors.udpToClosedPort,
                                    ScapyVectors.udpToClosedPort)
        #expect(sent.count == 2)
        #expect(harness.interface.counters[drop: .icmpErrorRateLimited] == 1)
        #expect(harness.interface.counters.icmpErrorsSent == 2)
        // Echo replies are not limited.
        #expect(harness.exchange(ScapyVectors.echoRequest).count == 1)
        #expect(harness.advance(by: .seconds(1)).isEmpty)
        #expect(harness.exchange(ScapyVectors.udpToClosedPort).count == 1)
    }

    @Test func corruptChecksumIsCounted() throws {
        let harness = try InterfaceHarness()
        harness.learnPeer()
        var frame = ScapyVectors.echoRequest
        frame[frame.count - 1] ^= 0xFF
        #expect(harness.exchange(frame).isEmpty)
        #expect(harness.interface.counters[drop: .icmpBadChecksum] == 1)
    }
}

@Suite struct InterfaceLargePingTests {
    /// The largest ICMP echo: 65535 − 20 (IPv4) − 8 (ICMP) = 65507 data octets.
    static let maximumData = 65507

    /// Builds the request fragments with the wire emitters; the checks below
    /// compare the reply with this input, not with our own output.
    static func requestFragments(dataLength: Int) -> (frames: [[UInt8]], data: [UInt8]) {
        let data = (0..<dataLength).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var message = [UInt8](repeating: 0, count: 8 + dataLength)
        message.withUnsafeMutableBytes { buffer in
            data.withUnsafeBytes { ICMPv4Repr.echoRequest(identifier: 5, sequenceNumber: 9).emit(into: buffer, data: $0) }
        }
        var frames: [[UInt8]] = []
        var offset = 0
        while offset < message.count {
            let length = min(1480, message.count - offset)
            let header = IPv4Repr(source: TestAddresses.peerIP, destination: TestAddresses.ourIP, protocolNumber: .icmp,
                                  payloadLength: length, identification: 0x4242,
                                  moreFragments: offset + length < message.count,
                                  fragmentOffset: UInt16(offset / 8))
            let ethernet = emitted(count: 14) {
                EthernetRepr(destination: TestAddresses.ourMAC, source: TestAddresses.peerMAC, etherType: .ipv4).emit(into: $0)
            }
            frames.append(ethernet + emitted(count: 20) { header.emit(into: $0) } + message[offset..<offset + length])
            offset += length
        }
        return (frames, data)
    }

    @Test func maximumSizePingIsAnswered() throws {
        let harness = try InterfaceHarness()
        harness.learnPeer()
        let (frames, data) = Self.requestFragments(dataLength: Self.maximumData)
        #expect(frames.count == 45)
        for frame in frames { harness.device.inject(frame) }
        var sent: [[UInt8]] = []
        for _ in 0..<3 { sent += harness.exchange() }
        #expect(sent.count == 45)
        let headers = try sent.map { frame in try withBytes(Array(frame.dropFirst(14))) { try IPv4Repr.parse($0) } }
        #expect(headers.map(\.fragmentOffset) == (0..<45).map { UInt16($0 * 185) })
        #expect(headers.filter(\.moreFragments).count == 44)
        let reply = sent.flatMap { $0.dropFirst(14 + 20) }
        #expect(reply.count == 8 + Self.maximumData)
        #expect(reply[0] == ICMPv4Type.echoReply.rawValue)
        #expect(Array(reply[8...]) == data)
        let checksum = withBytes(reply) { InternetChecksum.compute($0) }
        #expect(checksum == 0)
        #expect(harness.device.pool.freeCount == harness.device.pool.slotCount)
    }

    @Test func reassemblyBoundLimitsPingSize() throws {
        let harness = try InterfaceHarness { $0.reassembly.maximumBytes = 8192 }
        harness.learnPeer()
        let (frames, _) = Self.requestFragments(dataLength: 10000)
        for frame in frames { harness.device.inject(frame) }
        #expect(harness.exchange().isEmpty)
        #expect(harness.interface.counters[drop: .reassemblyMemoryLimit] == 1)
        #expect(harness.interface.counters[drop: .reassemblyDiscardedDatagram] == 1)
    }
}
