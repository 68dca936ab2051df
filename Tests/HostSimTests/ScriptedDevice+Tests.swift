import CapnetBase
import HostSim
import NIC
import Testing

@Suite struct ScriptedDeviceTests {
    static let mac = MACAddress(0x02, 0, 0, 0, 0, 0x42)

    @Test func injectedFramesAreReceivedInOrder() throws {
        let device = ScriptedDevice(macAddress: Self.mac)
        device.inject([1, 2, 3])
        device.inject([4, 5])
        var batch = FrameBatch(capacity: 8)
        let count = try device.receive(into: &batch, now: .zero)
        #expect(count == 2)
        #expect(Array(device.pool.bytes(batch[0])) == [1, 2, 3])
        #expect(Array(device.pool.bytes(batch[1])) == [4, 5])
        batch.releaseAll(to: device.pool)
        #expect(device.pool.freeCount == device.pool.slotCount)
    }

    @Test func receiveStopsAtBatchCapacity() throws {
        let device = ScriptedDevice(macAddress: Self.mac)
        for value in 0..<3 { device.inject([UInt8(value)]) }
        var batch = FrameBatch(capacity: 2)
        let received = try device.receive(into: &batch, now: .zero)
        #expect(received == 2)
        #expect(device.pendingInbound == 1)
        batch.releaseAll(to: device.pool)
    }

    @Test func transmittedFramesAreKeptAndSlotsReleased() throws {
        let device = ScriptedDevice(macAddress: Self.mac)
        var batch = FrameBatch(capacity: 4)
        let slot = try #require(device.pool.allocate())
        let frame = Frame(slot: slot, length: 3)
        device.pool.bytes(frame).copyBytes(from: [7, 8, 9])
        batch.append(frame)
        try device.transmit(&batch, now: .zero)
        let emptied = batch.isEmpty
        #expect(emptied)
        #expect(device.takeTransmitted() == [[7, 8, 9]])
        #expect(device.takeTransmitted().isEmpty)
        #expect(device.pool.freeCount == device.pool.slotCount)
        #expect(device.counters.transmittedFrames == 1)
    }

    @Test func oversizeFrameIsNotSent() throws {
        let device = ScriptedDevice(macAddress: Self.mac, mtu: 100)
        var batch = FrameBatch(capacity: 1)
        let slot = try #require(device.pool.allocate())
        batch.append(Frame(slot: slot, length: 100 + 14 + 1))
        try device.transmit(&batch, now: .zero)
        #expect(device.takeTransmitted().isEmpty)
        #expect(device.counters.transmitDropsOversize == 1)
    }
}
