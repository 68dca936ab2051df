import Testing
import CapnetBase
@testable import NIC

@Suite struct MemoryLinkDeviceTests {
    let now = Instant(nanoseconds: 1_000_000_000)

    func frame(_ fill: UInt8, length: Int = 60) -> [UInt8] {
        [UInt8](repeating: fill, count: length)
    }

    @Test func transmitArrivesAtPeerInOrder() throws {
        let (a, b) = MemoryLinkDevice.makePair()
        try a.send(frame(1), now: now)
        try a.send(frame(2, length: 100), now: now)
        let received = try b.receiveAll(now: now)
        #expect(received == [frame(1), frame(2, length: 100)])
        #expect(a.counters.transmittedFrames == 2)
        #expect(a.counters.transmittedBytes == 160)
        #expect(b.counters.receivedFrames == 2)
        #expect(b.counters.receivedBytes == 160)
        // Every slot is back: the sender's after transmit, the receiver's after release.
        #expect(a.pool.freeCount == a.pool.slotCount)
        #expect(b.pool.freeCount == b.pool.slotCount)
        let nothing = try a.receiveAll(now: now)
        #expect(nothing.isEmpty)
    }

    @Test func defaultAddressesAreDistinctUnicast() {
        let (a, b) = MemoryLinkDevice.makePair()
        #expect(a.macAddress == MACAddress("02:00:00:00:00:01"))
        #expect(b.macAddress == MACAddress("02:00:00:00:00:02"))
        #expect(a.peer === b)
        #expect(b.peer === a)
    }

    @Test func fullQueueDropsAndCounts() throws {
        let (a, b) = MemoryLinkDevice.makePair(queueCapacity: 3)
        for i in 0..<5 { try a.send(frame(UInt8(i)), now: now) }
        #expect(b.queuedFrameCount == 3)
        #expect(b.counters.receiveDropsQueueFull == 2)
        let received = try b.receiveAll(now: now)
        #expect(received.map { $0[0] } == [0, 1, 2])
    }

    @Test func exhaustedPeerPoolDropsAndCounts() throws {
        let (a, b) = MemoryLinkDevice.makePair(poolSlots: 2, queueCapacity: 8)
        for i in 0..<3 { try a.send(frame(UInt8(i)), now: now) }
        #expect(b.counters.receiveDropsPoolExhausted == 1)
        #expect(b.queuedFrameCount == 2)
    }

    @Test func oversizeFrameIsNotSent() throws {
        let (a, b) = MemoryLinkDevice.makePair(mtu: 1500)
        try a.send(frame(7, length: 1515), now: now)
        try a.send(frame(8, length: 1514), now: now)
        #expect(a.counters.transmitDropsOversize == 1)
        #expect(b.queuedFrameCount == 1)
    }

    @Test func downOrClosedLinkDrops() throws {
        let (a, b) = MemoryLinkDevice.makePair()
        a.isLinkUp = false
        try a.send(frame(1), now: now)
        #expect(a.counters.transmitDropsError == 1)
        a.isLinkUp = true
        try a.send(frame(2), now: now)
        b.close()
        #expect(b.pool.freeCount == b.pool.slotCount)
        try a.send(frame(3), now: now)
        #expect(a.counters.transmitDropsError == 2)
    }

    @Test func receiveStopsAtBatchCapacity() throws {
        let (a, b) = MemoryLinkDevice.makePair()
        for i in 0..<5 { try a.send(frame(UInt8(i)), now: now) }
        var batch = FrameBatch(capacity: 2)
        let first = try b.receive(into: &batch, now: now)
        #expect(first == 2)
        batch.releaseAll(to: b.pool)
        let rest = try b.receiveAll(now: now)
        #expect(rest.count == 3)
    }
}
