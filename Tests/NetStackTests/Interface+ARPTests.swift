import CapnetBase
import HostSim
import NIC
import Testing
@testable import NetStack

@Suite struct InterfaceARPTests {
    @Test func requestGetsReply() throws {
        let harness = try InterfaceHarness()
        let sent = harness.exchange(ScapyVectors.arpRequestForUs)
        #expect(sent.map(hex) == [hex(ScapyVectors.arpReplyFromUs)])
        #expect(harness.interface.counters.arpRequestsReceived == 1)
        #expect(harness.interface.counters.arpRepliesSent == 1)
        // RFC 826: the requester's mapping is added because we are the target.
        let table = harness.interface.arpTable
        #expect(table.count == 1)
        #expect(table.first?.address == TestAddresses.peerIP)
        #expect(table.first?.hardwareAddress == TestAddresses.peerMAC)
    }

    @Test func gratuitousARPOnFirstTurn() throws {
        let harness = try InterfaceHarness(gratuitousARP: true)
        #expect(harness.interface.nextDeadline == harness.interface.currentTime)
        let sent = harness.exchange()
        #expect(sent.map(hex) == [hex(ScapyVectors.gratuitousARP)])
        #expect(harness.exchange().isEmpty)
    }

    @Test func requestForOtherHostLearnsNothing() throws {
        let harness = try InterfaceHarness()
        let sent = harness.exchange(ScapyVectors.arpRequestForOtherHost)
        #expect(sent.isEmpty)
        #expect(harness.interface.arpTable.isEmpty)
        #expect(harness.interface.counters[drop: .arpTargetNotUs] == 1)
    }

    @Test func mergeUpdatesKnownSenderBeforeTargetCheck() throws {
        let harness = try InterfaceHarness()
        harness.learnPeer()
        // The announcement targets the peer's own address, not ours, yet
        // RFC 826 merges it first because the sender is already in the table.
        harness.exchange(ScapyVectors.arpPeerMovedAnnouncement)
        #expect(harness.interface.arpTable.first?.hardwareAddress == MACAddress(0x02, 0, 0, 0, 0, 0x0A))
    }

    @Test func mergeHappensBeforeOpcodeCheck() throws {
        let harness = try InterfaceHarness()
        harness.learnPeer()
        let sent = harness.exchange(ScapyVectors.arpPeerMovedRARP)
        #expect(sent.isEmpty)
        #expect(harness.interface.arpTable.first?.hardwareAddress == MACAddress(0x02, 0, 0, 0, 0, 0x0B))
        #expect(harness.interface.counters[drop: .arpUnsupportedOperation] == 1)
    }

    @Test func unsupportedHardwareIsCounted() throws {
        let harness = try InterfaceHarness()
        var frame = ScapyVectors.arpRequestForUs
        frame[14 + 1] = 6  // ar$hrd = IEEE 802
        #expect(harness.exchange(frame).isEmpty)
        #expect(harness.interface.counters[drop: .arpUnsupportedHardware] == 1)
    }

    @Test func unresolvedDestinationQueuesUntilReply() throws {
        let harness = try InterfaceHarness()
        let first = harness.exchange(ScapyVectors.echoRequest)
        #expect(first.map(hex) == [hex(ScapyVectors.arpRequestFromUs)])
        let second = harness.exchange(ScapyVectors.arpReplyFromPeer)
        #expect(second.map(hex) == [hex(ScapyVectors.echoReply)])
    }

    @Test func pendingQueueBoundDropsExcess() throws {
        let harness = try InterfaceHarness { $0.arp.maximumPendingPerAddress = 2 }
        harness.exchange()
        let socket = try harness.interface.bindUDP(port: 5000)
        let peer = IPv4Endpoint(address: TestAddresses.peerIP, port: 6000)
        var results: [Bool] = []
        for _ in 0..<3 { results.append(try socket.send([1, 2, 3], to: peer)) }
        #expect(results == [true, true, false])
        #expect(harness.interface.counters[drop: .arpPendingQueueFull] == 1)
        let requests = harness.exchange()
        #expect(requests.map(hex) == [hex(ScapyVectors.arpRequestFromUs)])
        let released = harness.exchange(ScapyVectors.arpReplyFromPeer)
        #expect(released.count == 2)
    }

    @Test func resolutionTimesOutAfterRetries() throws {
        let harness = try InterfaceHarness()
        harness.exchange()
        let socket = try harness.interface.bindUDP(port: 5000)
        try socket.send([1], to: IPv4Endpoint(address: TestAddresses.peerIP, port: 6000))
        #expect(harness.exchange().map(hex) == [hex(ScapyVectors.arpRequestFromUs)])
        #expect(harness.interface.nextDeadline == harness.now + .seconds(1))
        #expect(harness.advance(by: .seconds(1)).map(hex) == [hex(ScapyVectors.arpRequestFromUs)])
        #expect(harness.advance(by: .seconds(1)).map(hex) == [hex(ScapyVectors.arpRequestFromUs)])
        #expect(harness.advance(by: .seconds(1)).isEmpty)
        #expect(harness.interface.counters[drop: .arpResolutionFailed] == 1)
        #expect(harness.interface.arpTable.isEmpty)
        #expect(harness.device.pool.freeCount == harness.device.pool.slotCount)
    }

    @Test func mappingExpires() throws {
        let harness = try InterfaceHarness { $0.arp.entryLifetime = .seconds(10) }
        harness.learnPeer()
        #expect(harness.interface.arpTable.count == 1)
        _ = harness.advance(by: .seconds(10))
        #expect(harness.interface.arpTable.isEmpty)
    }
}

@Suite struct InterfaceARPConflictTests {
    @Test func ownFrameLoopedBackIsIgnored() throws {
        let harness = try InterfaceHarness(gratuitousARP: true)
        let announcement = harness.exchange()
        #expect(announcement.count == 1)
        #expect(harness.exchange(ScapyVectors.gratuitousARP).isEmpty)
        #expect(harness.interface.counters[drop: .ethernetOwnFrame] == 1)
        #expect(harness.interface.arpTable.isEmpty)
    }

    @Test func claimOnOurAddressIsNotLearned() throws {
        let harness = try InterfaceHarness()
        // The peer's request, rewritten to claim 192.0.2.2 as its own address.
        var frame = ScapyVectors.arpRequestForUs
        frame[14 + 17] = 2
        #expect(harness.exchange(frame).isEmpty)
        #expect(harness.interface.counters[drop: .arpInvalidSender] == 1)
        #expect(harness.interface.arpTable.isEmpty)
    }
}
