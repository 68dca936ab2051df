import CapnetBase
import HostSim
import NIC
import Testing
@testable import NetStack

/// A stand-in transport that records what it receives and replies through the output.
final class RecordingTransport: IPv4TransportHandler {
    var received: [(source: IPv4Address, payload: [UInt8])] = []
    var polls = 0
    var nextDeadline: Instant?

    func receive<Output: IPv4Output>(source: IPv4Address, destination: IPv4Address, payload: UnsafeRawBufferPointer,
                                     now: Instant, output: inout Output) {
        received.append((source, Array(payload)))
        _ = output.send(source: destination, destination: source, protocolNumber: .tcp, payloadLength: 4) { buffer in
            buffer.copyBytes(from: [0xCA, 0xFE, 0xF0, 0x0D])
        }
    }

    func poll<Output: IPv4Output>(now: Instant, output: inout Output) {
        polls += 1
    }
}

/// A transport that also records the ICMP errors about its datagrams.
final class ErrorRecordingTransport: IPv4TransportHandler, IPv4ICMPErrorReceiver {
    var errors: [(message: ICMPv4Repr, reporter: IPv4Address, original: IPv4Repr, payload: [UInt8])] = []
    var nextDeadline: Instant? { nil }

    func receive<Output: IPv4Output>(source: IPv4Address, destination: IPv4Address, payload: UnsafeRawBufferPointer,
                                     now: Instant, output: inout Output) {}

    func poll<Output: IPv4Output>(now: Instant, output: inout Output) {}

    func receiveICMPError(_ message: ICMPv4Repr, from reporter: IPv4Address, original: IPv4Repr,
                          originalPayload: UnsafeRawBufferPointer, now: Instant) {
        errors.append((message, reporter, original, Array(originalPayload)))
    }
}

@Suite struct InterfaceIPv4Tests {
    @Test func icmpErrorReachesSendingTransport() throws {
        let harness = try InterfaceHarness()
        let transport = ErrorRecordingTransport()
        try harness.interface.register(transport, for: .tcp)
        #expect(harness.exchange(ScapyVectors.unreachableAboutOurTCP).isEmpty)
        #expect(transport.errors.count == 1)
        let error = try #require(transport.errors.first)
        #expect(error.message == .destinationUnreachable(.portUnreachable, nextHopMTU: 0))
        #expect(error.reporter == TestAddresses.peerIP)
        #expect(error.original.source == TestAddresses.ourIP)
        #expect(error.original.destination == TestAddresses.peerIP)
        #expect(error.original.identification == 0x2222)
        #expect(error.payload == [0xC3, 0x50, 0x00, 0x50, 0x00, 0x00, 0x00, 0x01])
        #expect(harness.interface.counters.icmpErrorsReceived == 1)
    }

    @Test func icmpErrorWithoutReceiverIsCounted() throws {
        let harness = try InterfaceHarness()
        try harness.interface.register(RecordingTransport(), for: .tcp)
        #expect(harness.exchange(ScapyVectors.unreachableAboutOurTCP).isEmpty)
        #expect(harness.interface.counters[drop: .icmpUnhandled] == 1)
    }

    @Test func registeredTransportReceivesAndSends() throws {
        let harness = try InterfaceHarness()
        harness.learnPeer()
        let transport = RecordingTransport()
        try harness.interface.register(transport, for: .tcp)
        let sent = harness.exchange(ScapyVectors.tcpSegment)
        #expect(transport.received.count == 1)
        #expect(transport.received.first?.source == TestAddresses.peerIP)
        #expect(transport.received.first?.payload == Array("not really tcp".utf8))
        #expect(transport.polls == 1)
        #expect(sent.count == 1)
        let header = try withBytes(Array(sent[0].dropFirst(14))) { try IPv4Repr.parse($0) }
        #expect(header.protocolNumber == .tcp)
        #expect(header.destination == TestAddresses.peerIP)
        #expect(Array(sent[0].suffix(4)) == [0xCA, 0xFE, 0xF0, 0x0D])
    }

    @Test func transportDeadlineIsHonoured() throws {
        let harness = try InterfaceHarness()
        harness.exchange()
        let transport = RecordingTransport()
        try harness.interface.register(transport, for: .tcp)
        transport.nextDeadline = harness.now + .milliseconds(200)
        #expect(harness.interface.nextDeadline == harness.now + .milliseconds(200))
    }

    @Test func builtInProtocolsCannotBeRegistered() throws {
        let harness = try InterfaceHarness()
        #expect(throws: InterfaceError.self) { try harness.interface.register(RecordingTransport(), for: .udp) }
        try harness.interface.register(RecordingTransport(), for: .tcp)
        #expect(throws: InterfaceError.self) { try harness.interface.register(RecordingTransport(), for: .tcp) }
    }

    @Test func datagramForOtherHostIsDropped() throws {
        let harness = try InterfaceHarness()
        var frame = ScapyVectors.echoRequest
        frame[14 + 19] = 99  // destination 192.0.2.99; fix the header checksum
        frame[14 + 10] = 0
        frame[14 + 11] = 0
        let checksum = withBytes(Array(frame[14..<34])) { InternetChecksum.compute($0) }
        frame[14 + 10] = UInt8(checksum >> 8)
        frame[14 + 11] = UInt8(checksum & 0xFF)
        #expect(harness.exchange(frame).isEmpty)
        #expect(harness.interface.counters[drop: .ipv4NotForUs] == 1)
    }

    @Test func malformedFramesAreCountedNotTrapped() throws {
        let harness = try InterfaceHarness()
        var badChecksum = ScapyVectors.echoRequest
        badChecksum[14 + 8] = 1
        let truncated = Array(ScapyVectors.echoRequest.prefix(30))
        var otherMAC = ScapyVectors.echoRequest
        otherMAC[5] = 0x99
        var ipv6 = ScapyVectors.echoRequest
        ipv6[12] = 0x86
        ipv6[13] = 0xDD
        let sent = harness.exchange(badChecksum, truncated, otherMAC, ipv6, [0x01])
        #expect(sent.isEmpty)
        let counters = harness.interface.counters
        #expect(counters[drop: .ipv4BadChecksum] == 1)
        #expect(counters[drop: .ipv4Malformed] == 1)
        #expect(counters[drop: .ethernetNotForUs] == 1)
        #expect(counters[drop: .ethernetUnsupportedType] == 1)
        #expect(counters[drop: .ethernetTruncated] == 1)
        #expect(counters.receivedFrames == 5)
        #expect(counters.totalDrops == 5)
    }

    @Test func everyFrameIsCounted() throws {
        let harness = try InterfaceHarness()
        harness.learnPeer()
        harness.exchange(ScapyVectors.echoRequest)
        let counters = harness.interface.counters
        #expect(counters.receivedFrames == 2)
        #expect(counters.receivedBytes == UInt64(ScapyVectors.arpRequestForUs.count + ScapyVectors.echoRequest.count))
        #expect(counters.sentFrames == 2)
        #expect(counters.sentBytes == UInt64(ScapyVectors.arpReplyFromUs.count + ScapyVectors.echoReply.count))
        #expect(harness.device.pool.freeCount == harness.device.pool.slotCount)
    }

    @Test func dropLabelsSuitPrometheus() {
        let labels = DropReason.allCases.map(\.label)
        #expect(Set(labels).count == labels.count)
        for label in labels {
            #expect(label.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }, "\(label)")
        }
    }

    @Test func runStopsWhenAsked() throws {
        let harness = try InterfaceHarness()
        harness.device.inject(ScapyVectors.arpRequestForUs)
        var turns = 0
        try harness.interface.run(clock: harness.clock) {
            turns += 1
            return turns > 2
        }
        #expect(harness.device.takeTransmitted().map(hex) == [hex(ScapyVectors.arpReplyFromUs)])
    }
}

@Suite struct InterfaceLifecycleTests {
    @Test func closeReleasesPendingFrames() throws {
        let harness = try InterfaceHarness()
        harness.exchange()
        let socket = try harness.interface.bindUDP(port: 5000)
        try socket.send([1, 2], to: IPv4Endpoint(address: TestAddresses.peerIP, port: 6000))
        harness.interface.close()
        #expect(harness.device.isClosed)
        #expect(harness.device.takeTransmitted().map(hex) == [hex(ScapyVectors.arpRequestFromUs)])
        #expect(harness.device.pool.freeCount == harness.device.pool.slotCount)
    }
}

@Suite struct InterfaceGaugeTests {
    @Test func gaugesShowOccupancyAndBounds() throws {
        let harness = try InterfaceHarness {
            $0.reassembly.maximumBytes = 100_000
            $0.arp.maximumPendingTotal = 10
        }
        harness.exchange(ScapyVectors.bigEchoRequestFragment0)
        _ = try harness.interface.bindUDP(port: 7)
        let gauges = harness.interface.gauges
        #expect(gauges.reassemblyDatagrams == 1)
        #expect(gauges.reassemblyBytes == 1480)
        #expect(gauges.reassemblyBytesLimit == 100_000)
        #expect(gauges.arpPendingFramesLimit == 10)
        #expect(gauges.udpSockets == 1)
        #expect(gauges.framePoolFree == gauges.framePoolSize)
    }
}
