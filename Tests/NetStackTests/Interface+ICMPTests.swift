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
        #expect(harness.interface.counters[drop: .reassemblyOverlap] == 3)
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
