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

@Suite struct VirtioNetNotificationTests {
    /// The device requests a notification every 8 entries (avail_event =
    /// last_avail_idx + 7). avail_event starts at 0, so the driver must
    /// notify when it writes entries 0, 8, 16 and 24 of 32.
    @Test func eventIndexSuppressesKicks() throws {
        var options = SimulatedVirtioNetDevice.Options()
        options.availableNotificationInterval = 8
        let fixture = try NetFixture(options: options)
        for sequence in 0..<32 {
            try fixture.send([testFrame(sequence: sequence, length: 60)])
            fixture.sim.processTransmitQueue()
        }
        let statistics = fixture.sim.statistics
        #expect(statistics.transmittedFrames == 32)
        #expect(statistics.availableNotifications[VirtioNetConfig.transmitQueue1] == 4)
        #expect(statistics.missedAvailableNotifications == 0)
        fixture.driver.close()
    }

    /// Without EVENT_IDX the device sets VIRTQ_USED_F_NO_NOTIFY after the
    /// first run, so only the first transmit notifies.
    @Test func noNotifyFlagSuppressesKicks() throws {
        var options = SimulatedVirtioNetDevice.Options()
        options.availableNotificationInterval = 8
        options.offeredFeatures.remove(.eventIndex)
        let fixture = try NetFixture(options: options)
        for sequence in 0..<32 {
            try fixture.send([testFrame(sequence: sequence, length: 60)])
            fixture.sim.processTransmitQueue()
        }
        #expect(fixture.sim.statistics.availableNotifications[VirtioNetConfig.transmitQueue1] == 1)
        #expect(fixture.sim.statistics.missedAvailableNotifications == 0)
        fixture.driver.close()
    }

    /// While the driver polls, the device sends no used buffer
    /// notifications; `wait` re-enables them and the next frame wakes it.
    @Test func receiveNotificationsOnlyWhileWaiting() throws {
        for eventIndex in [true, false] {
            var options = SimulatedVirtioNetDevice.Options()
            if !eventIndex { options.offeredFeatures.remove(.eventIndex) }
            let fixture = try NetFixture(options: options)
            for sequence in 0..<10 { #expect(fixture.sim.deliver(testFrame(sequence: sequence, length: 60))) }
            #expect(try fixture.receiveAll().count == 10)
            #expect(fixture.sim.statistics.usedNotifications == 0)

            // Frames already waiting: wait returns without enabling.
            #expect(fixture.sim.deliver(testFrame(sequence: 10, length: 60)))
            try fixture.driver.wait(until: Instant(nanoseconds: 1), now: .zero)
            #expect(try fixture.receiveAll().count == 1)
            #expect(fixture.sim.statistics.usedNotifications == 0)
            fixture.driver.close()
        }
    }
}

@Suite struct VirtioNetBulkTests {
    /// Two drivers joined by their simulated devices exchange 5000 frames
    /// each way in batches. Every frame arrives in order and intact, and
    /// both pools are full again after close.
    @Test func thousandsOfFramesBothWaysWithoutSlotLeak() throws {
        var optionsA = SimulatedVirtioNetDevice.Options()
        optionsA.transmitCompletion = .reversed
        optionsA.availableNotificationInterval = 4
        var optionsB = SimulatedVirtioNetDevice.Options()
        optionsB.receiveBytesPerBuffer = 700
        optionsB.macAddress = MACAddress(0x02, 0, 0, 0, 0, 0x02)
        let a = try NetFixture(options: optionsA)
        let b = try NetFixture(options: optionsB)
        a.sim.onTransmit = { b.sim.deliver($0) }
        b.sim.onTransmit = { a.sim.deliver($0) }

        let total = 5000
        let batchSize = 25
        var receivedByA: [Int] = []
        var receivedByB: [Int] = []
        for round in 0..<(total / batchSize) {
            let sequences = (round * batchSize)..<((round + 1) * batchSize)
            try a.send(sequences.map { testFrame(sequence: $0, length: 60 + $0 % 1400) })
            try b.send(sequences.map { testFrame(sequence: $0, length: 1514 - $0 % 1400) })
            a.sim.processTransmitQueue()
            b.sim.processTransmitQueue()
            for frame in try b.receiveAll() {
                let sequence = try #require(sequenceNumber(of: frame))
                #expect(frame == testFrame(sequence: sequence, length: 60 + sequence % 1400))
                receivedByB.append(sequence)
            }
            for frame in try a.receiveAll() {
                let sequence = try #require(sequenceNumber(of: frame))
                #expect(frame == testFrame(sequence: sequence, length: 1514 - sequence % 1400))
                receivedByA.append(sequence)
            }
        }
        #expect(receivedByA == Array(0..<total))
        #expect(receivedByB == Array(0..<total))
        #expect(b.driver.virtioCounters.receiveMergedFrames > 0)
        #expect(a.sim.violations == [])
        #expect(b.sim.violations == [])
        #expect(a.sim.statistics.missedAvailableNotifications == 0)
        #expect(b.sim.statistics.receiveDropsNoBuffer == 0)

        a.driver.close()
        b.driver.close()
        #expect(a.pool.freeCount == NetFixture.slotCount)
        #expect(b.pool.freeCount == NetFixture.slotCount)
    }

    /// The device runs on its own thread and echoes every frame. The driver
    /// sends 3000 frames and sleeps in `wait` between receives, so the rings
    /// are shared across threads as with a real device.
    @Test func echoThroughDeviceThread() throws {
        let fixture = try NetFixture()
        fixture.sim.startEchoThread()
        let clock = MonotonicTimeSource()
        let total = 3000
        let batchSize = 20
        let deadline = clock.now() + .seconds(60)
        var next = 0
        var received: [Int] = []
        var batch = FrameBatch(capacity: 64)
        while received.count < total && clock.now() < deadline {
            if next < total && next - received.count < 100 {
                let count = min(batchSize, total - next)
                try fixture.send((next..<(next + count)).map { testFrame(sequence: $0, length: 64 + $0 % 1000) })
                next += count
            }
            let now = clock.now()
            try fixture.driver.wait(until: now + .milliseconds(100), now: now)
            _ = try fixture.driver.receive(into: &batch, now: clock.now())
            for i in 0..<batch.count {
                let frame = Array(fixture.pool.bytes(batch[i]))
                let sequence = try #require(sequenceNumber(of: frame))
                #expect(frame == testFrame(sequence: sequence, length: 64 + sequence % 1000))
                received.append(sequence)
            }
            batch.releaseAll(to: fixture.pool)
        }
        fixture.sim.stopEchoThread()
        #expect(received == Array(0..<total))
        #expect(fixture.sim.violations == [])
        fixture.driver.close()
        #expect(fixture.pool.freeCount == NetFixture.slotCount)
    }
}
