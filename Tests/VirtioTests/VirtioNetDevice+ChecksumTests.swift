import CapnetBase
import HostSim
import NIC
import Testing

@Suite struct VirtioNetChecksumTests {
    /// Ethernet + IPv4 192.0.2.1 -> 198.51.100.2 + UDP 5000 -> 7 with the
    /// payload "capnet". The UDP checksum field contains 0xEC56, the folded
    /// pseudo-header sum, as a device sending NEEDS_CSUM leaves it.
    static func partialUDPFrame() -> [UInt8] {
        let ethernet: [UInt8] = [0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x08, 0x00]
        let ipv4: [UInt8] = [0x45, 0x00, 0x00, 0x22, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00,
                             192, 0, 2, 1, 198, 51, 100, 2]
        let udp: [UInt8] = [0x13, 0x88, 0x00, 0x07, 0x00, 0x0E, 0xEC, 0x56]
        return ethernet + ipv4 + udp + Array("capnet".utf8)
    }

    /// UDP checksum of that datagram as scapy 2.5 computes it
    /// (`IP(src=..., dst=...)/UDP(sport=5000, dport=7)/b"capnet"`).
    static let expectedUDPChecksum: [UInt8] = [0xC6, 0xC7]
    static let udpChecksumOffset = 14 + 20 + 6

    @Test func needsChecksumIsCompleted() throws {
        let fixture = try NetFixture()
        let frame = Self.partialUDPFrame()
        #expect(fixture.sim.deliver(frame, checksum: .partial(start: 34, offset: 6)))
        let received = try fixture.receiveAll()
        #expect(received.count == 1)
        let checksum = Array(received[0][Self.udpChecksumOffset..<(Self.udpChecksumOffset + 2)])
        #expect(checksum == Self.expectedUDPChecksum)
        #expect(fixture.driver.virtioCounters.receiveChecksumsCompleted == 1)
        fixture.driver.close()
    }

    @Test func checksumOffsetsOutsideFrameAreDropped() throws {
        let fixture = try NetFixture()
        let frame = Self.partialUDPFrame()
        #expect(fixture.sim.deliver(frame, checksum: .partial(start: 34, offset: frame.count)))
        #expect(try fixture.receiveAll() == [])
        #expect(fixture.driver.virtioCounters.receiveDropsMalformed == 1)
        fixture.driver.close()
        #expect(fixture.pool.freeCount == NetFixture.slotCount)
    }

    @Test func dataValidIsCounted() throws {
        let fixture = try NetFixture()
        let frame = testFrame(sequence: 1, length: 80)
        #expect(fixture.sim.deliver(frame, checksum: .dataValid))
        #expect(try fixture.receiveAll() == [frame])
        #expect(fixture.driver.virtioCounters.receiveChecksumsValidated == 1)
        fixture.driver.close()
    }

    /// Without GUEST_CSUM the device may not send partial checksums, so the
    /// frame arrives untouched.
    @Test func noCompletionWithoutGuestChecksum() throws {
        var features = VirtioNetDevice.supportedFeatures
        features.remove(.netGuestChecksum)
        let fixture = try NetFixture(features: features)
        let frame = Self.partialUDPFrame()
        #expect(fixture.sim.deliver(frame, checksum: .partial(start: 34, offset: 6)))
        #expect(try fixture.receiveAll() == [frame])
        fixture.driver.close()
    }
}
