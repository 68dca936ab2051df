import CapnetBase
import HostSim
import NIC
import Testing

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
