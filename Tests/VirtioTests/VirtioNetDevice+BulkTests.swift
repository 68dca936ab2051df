import CapnetBase
import HostSim
import NIC
import Testing

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
