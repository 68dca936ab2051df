import CapnetBase
import HostSim
import NIC
import Testing

@Suite struct VirtioNetInitializationTests {
    @Test func negotiatesModernDevice() throws {
        let fixture = try NetFixture()
        let offered = fixture.sim.options.offeredFeatures
        #expect(fixture.driver.negotiatedFeatures == offered)
        #expect(fixture.sim.driverFeatures == offered)
        #expect(fixture.sim.currentStatus == [.acknowledge, .driver, .featuresOK, .driverOK])
        #expect(fixture.driver.macAddress == MACAddress(0x02, 0x00, 0x00, 0x00, 0x00, 0x01))
        #expect(fixture.driver.isLinkUp)
        #expect(fixture.sim.violations == [])
        fixture.driver.close()
    }

    @Test func acceptsOnlyOfferedFeatures() throws {
        var options = SimulatedVirtioNetDevice.Options()
        options.offeredFeatures = [.version1, .netMAC, .netControlQueue, .ringPacked]
        let fixture = try NetFixture(options: options)
        #expect(fixture.driver.negotiatedFeatures == [.version1, .netMAC])
        fixture.driver.close()
    }

    @Test func rejectsLegacyDevice() throws {
        var options = SimulatedVirtioNetDevice.Options()
        options.offeredFeatures = [.netMAC, .netStatus, .netMergeableReceiveBuffers]
        let sim = SimulatedVirtioNetDevice(options: options)
        let error = try #require(throws: VirtioError.self) {
            _ = try VirtioNetDevice(transport: sim, pool: FramePool(slotCount: 256))
        }
        #expect(error.code == .legacyDeviceOnly)
        #expect(error.description.contains("VIRTIO_F_VERSION_1"))
        #expect(sim.currentStatus.contains(.failed))
        #expect(!sim.currentStatus.contains(.featuresOK))
        #expect(sim.driverFeatures == [])
    }

    @Test func failsWhenFeaturesOKRefused() throws {
        var options = SimulatedVirtioNetDevice.Options()
        options.offeredFeatures.insert(.netControlQueue)
        options.requiredFeatures = [.netControlQueue]
        let sim = SimulatedVirtioNetDevice(options: options)
        let error = try #require(throws: VirtioError.self) {
            _ = try VirtioNetDevice(transport: sim, pool: FramePool(slotCount: 256))
        }
        #expect(error.code == .featuresNotAccepted)
        #expect(sim.currentStatus.contains(.failed))
        #expect(!sim.currentStatus.contains(.driverOK))
    }

    @Test func rejectsSlotsSmallerThanMTU() throws {
        let sim = SimulatedVirtioNetDevice()
        let error = try #require(throws: VirtioError.self) {
            _ = try VirtioNetDevice(transport: sim, pool: FramePool(slotCount: 256, slotSize: 1024))
        }
        #expect(error.code == .invalidConfiguration)
    }

    @Test func deviceNeedsResetStopsDriver() throws {
        let fixture = try NetFixture()
        fixture.sim.signalNeedsReset()
        let error = try #require(throws: VirtioError.self) { _ = try fixture.receiveAll() }
        #expect(error.code == .deviceFailed)
        // Every later call fails the same way; transmit still releases its frames.
        let before = fixture.pool.freeCount
        #expect(throws: VirtioError.self) { try fixture.send([testFrame(sequence: 1, length: 60)]) }
        #expect(fixture.pool.freeCount == before)
        fixture.driver.close()
        #expect(fixture.pool.freeCount == NetFixture.slotCount)
    }

    @Test func usesFallbackMACWithoutMACFeature() throws {
        var options = SimulatedVirtioNetDevice.Options()
        options.offeredFeatures.remove(.netMAC)
        let sim = SimulatedVirtioNetDevice(options: options)
        let fallback = MACAddress(0x02, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE)
        let driver = try VirtioNetDevice(transport: sim, pool: FramePool(slotCount: 256),
                                         configuration: .init(fallbackMACAddress: fallback))
        #expect(driver.macAddress == fallback)
        driver.close()
    }

    @Test func closeResetsDeviceAndReturnsSlots() throws {
        let fixture = try NetFixture()
        #expect(fixture.pool.freeCount == NetFixture.slotCount - fixture.postedReceiveBuffers)
        fixture.driver.close()
        #expect(fixture.pool.freeCount == NetFixture.slotCount)
        #expect(fixture.sim.currentStatus == [])
        #expect(fixture.sim.statistics.resets == 2)   // at start (§3.1.1 step 1) and at close
    }
}

@Suite struct VirtioNetTrafficTests {
    @Test func transmitDeliversFrameWithoutHeader() throws {
        let fixture = try NetFixture()
        var sent: [[UInt8]] = []
        fixture.sim.onTransmit = { sent.append($0) }
        let frames = (0..<3).map { testFrame(sequence: $0, length: 60 + $0) }
        try fixture.send(frames)
        #expect(fixture.sim.processTransmitQueue() == 3)
        #expect(sent == frames)
        #expect(fixture.driver.counters.transmittedFrames == 3)
        #expect(fixture.driver.counters.transmittedBytes == 183)
        #expect(fixture.sim.violations == [])
        fixture.driver.close()
        #expect(fixture.pool.freeCount == NetFixture.slotCount)
    }

    @Test func receiveReturnsDeliveredFrames() throws {
        let fixture = try NetFixture()
        let frames = (0..<5).map { testFrame(sequence: $0, length: 64 + 100 * $0) }
        for frame in frames { #expect(fixture.sim.deliver(frame)) }
        #expect(try fixture.receiveAll() == frames)
        #expect(fixture.driver.counters.receivedFrames == 5)
        fixture.driver.close()
        #expect(fixture.pool.freeCount == NetFixture.slotCount)
    }

    @Test func outOfOrderTransmitCompletionReleasesSlots() throws {
        var options = SimulatedVirtioNetDevice.Options()
        options.transmitCompletion = .held
        let fixture = try NetFixture(options: options)
        let base = fixture.pool.freeCount
        try fixture.send((0..<10).map { testFrame(sequence: $0, length: 100) })
        #expect(fixture.sim.processTransmitQueue() == 10)
        #expect(fixture.sim.heldTransmitCount == 10)
        #expect(fixture.pool.freeCount == base - 10)

        fixture.sim.completeHeldTransmits(reversed: true)
        // Completions are reclaimed on the next transmit call.
        try fixture.send([])
        #expect(fixture.pool.freeCount == base)
        #expect(fixture.sim.violations == [])
        fixture.driver.close()
        #expect(fixture.pool.freeCount == NetFixture.slotCount)
    }

    @Test func reversedCompletionKeepsQueueUsable() throws {
        var options = SimulatedVirtioNetDevice.Options()
        options.transmitCompletion = .reversed
        let fixture = try NetFixture(options: options)
        var received = 0
        fixture.sim.onTransmit = { _ in received += 1 }
        for round in 0..<200 {
            try fixture.send((0..<7).map { testFrame(sequence: round * 7 + $0, length: 80) })
            fixture.sim.processTransmitQueue()
        }
        #expect(received == 1400)
        #expect(fixture.sim.violations == [])
        fixture.driver.close()
        #expect(fixture.pool.freeCount == NetFixture.slotCount)
    }

    @Test func mergeableBuffersBecomeOneFrame() throws {
        var options = SimulatedVirtioNetDevice.Options()
        options.receiveBytesPerBuffer = 500
        let fixture = try NetFixture(options: options)
        // 12 + 1400 bytes at 500 per buffer: 500 + 500 + 412, num_buffers 3.
        let frame = testFrame(sequence: 7, length: 1400)
        #expect(fixture.sim.deliver(frame))
        #expect(try fixture.receiveAll() == [frame])
        #expect(fixture.driver.virtioCounters.receiveMergedFrames == 1)
        #expect(fixture.pool.freeCount == NetFixture.slotCount - fixture.postedReceiveBuffers)
        fixture.driver.close()
        #expect(fixture.pool.freeCount == NetFixture.slotCount)
    }

    @Test func mergedFrameLargerThanSlotIsDropped() throws {
        let fixture = try NetFixture()
        // 12 + 3000 bytes need two 2060-byte buffers; 3000 > 2048-byte slot.
        #expect(fixture.sim.deliver(testFrame(sequence: 1, length: 3000)))
        #expect(try fixture.receiveAll() == [])
        #expect(fixture.driver.virtioCounters.receiveDropsOversize == 1)
        // The next frame still arrives whole.
        let next = testFrame(sequence: 2, length: 1514)
        #expect(fixture.sim.deliver(next))
        #expect(try fixture.receiveAll() == [next])
        #expect(fixture.pool.freeCount == NetFixture.slotCount - fixture.postedReceiveBuffers)
        fixture.driver.close()
        #expect(fixture.pool.freeCount == NetFixture.slotCount)
    }

    @Test func frameLargerThanBufferWithoutMergingIsDroppedByDevice() throws {
        var features = VirtioNetDevice.supportedFeatures
        features.remove(.netMergeableReceiveBuffers)
        let fixture = try NetFixture(features: features)
        #expect(!fixture.sim.deliver(testFrame(sequence: 1, length: 3000)))
        #expect(fixture.sim.statistics.receiveDropsTooLarge == 1)
        let next = testFrame(sequence: 2, length: 1514)
        #expect(fixture.sim.deliver(next))
        #expect(try fixture.receiveAll() == [next])
        fixture.driver.close()
        #expect(fixture.pool.freeCount == NetFixture.slotCount)
    }

    @Test func oversizeTransmitIsCounted() throws {
        let fixture = try NetFixture()
        try fixture.send([testFrame(sequence: 1, length: 1515)])
        #expect(fixture.driver.counters.transmitDropsOversize == 1)
        #expect(fixture.sim.processTransmitQueue() == 0)
        fixture.driver.close()
        #expect(fixture.pool.freeCount == NetFixture.slotCount)
    }

    @Test func linkDownAndUp() throws {
        let fixture = try NetFixture()
        fixture.sim.setLinkUp(false)
        #expect(try fixture.receiveAll() == [])
        #expect(!fixture.driver.isLinkUp)
        try fixture.send([testFrame(sequence: 1, length: 60)])
        #expect(fixture.driver.virtioCounters.transmitDropsLinkDown == 1)
        #expect(!fixture.sim.deliver(testFrame(sequence: 2, length: 60)))

        fixture.sim.setLinkUp(true)
        // The configuration change also wakes a waiting driver.
        try fixture.driver.wait(until: Instant(nanoseconds: 1_000_000_000), now: .zero)
        #expect(try fixture.receiveAll() == [])
        #expect(fixture.driver.isLinkUp)
        #expect(fixture.driver.virtioCounters.linkChanges == 2)
        let frame = testFrame(sequence: 3, length: 60)
        try fixture.send([frame])
        var sent: [[UInt8]] = []
        fixture.sim.onTransmit = { sent.append($0) }
        fixture.sim.processTransmitQueue()
        #expect(sent == [frame])
        fixture.driver.close()
        #expect(fixture.pool.freeCount == NetFixture.slotCount)
    }
}
