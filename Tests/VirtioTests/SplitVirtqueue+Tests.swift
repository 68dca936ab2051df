import HostSim
import NIC
import Testing

/// A driver-side queue and the simulated device side over the same memory.
struct QueuePair {
    let memory: HostDMAAllocator
    let driver: SplitVirtqueue
    let device: SimulatedVirtqueue
    let buffers: DMARegion

    static let bufferSize = 64

    init(size: Int = 8, eventIndex: Bool) throws {
        memory = HostDMAAllocator(addressOffset: 0x4000_0000_0000)
        let layout = try #require(SplitVirtqueueLayout(queueSize: size))
        let region = try memory.allocate(byteCount: layout.byteCount, alignment: 4096)
        driver = try SplitVirtqueue(index: 0, layout: layout, region: region, eventIndex: eventIndex)
        device = try SimulatedVirtqueue(index: 0, size: size, eventIndex: eventIndex,
                                        descriptorArea: driver.descriptorAreaAddress,
                                        driverArea: driver.driverAreaAddress,
                                        deviceArea: driver.deviceAreaAddress, memory: memory)
        buffers = try memory.allocate(byteCount: size * Self.bufferSize, alignment: 64)
    }

    /// Adds a one-element device-writable buffer carrying `token`.
    @discardableResult
    func addWritable(token: Int32, slot: Int) -> UInt16? {
        let address = buffers.deviceAddress(atOffset: slot * Self.bufferSize)
        return driver.addChain(elementCount: 1, token: token) { _ in
            VirtqBufferElement(address: address, length: UInt32(Self.bufferSize), deviceWritable: true)
        }
    }
}

@Suite struct SplitVirtqueueLayoutTests {
    /// Sizes from the virtio 1.2 §2.7 table: descriptor table 16 * Q,
    /// available ring 6 + 2 * Q, used ring 6 + 8 * Q; for Q = 256 with the
    /// used ring moved to the next 64-byte boundary.
    @Test func layoutOf256EntryQueue() throws {
        let layout = try #require(SplitVirtqueueLayout(queueSize: 256))
        #expect(layout.descriptorTableOffset == 0)
        #expect(layout.availableRingOffset == 4096)
        #expect(layout.usedEventOffset == 4096 + 4 + 512)
        #expect(layout.usedRingOffset == 4672)
        #expect(layout.availEventOffset == 4672 + 4 + 2048)
        #expect(layout.byteCount == 4672 + 2054)
    }

    @Test func layoutRejectsInvalidSizes() {
        #expect(SplitVirtqueueLayout(queueSize: 0) == nil)
        #expect(SplitVirtqueueLayout(queueSize: 3) == nil)
        #expect(SplitVirtqueueLayout(queueSize: 65536) == nil)
        #expect(SplitVirtqueueLayout(queueSize: 32768) != nil)
    }
}

@Suite struct VringNeedEventTests {
    /// Cases worked by hand from the §2.7.10 formula
    /// `(u16)(new_idx - event_idx - 1) < (u16)(new_idx - old_idx)`.
    @Test(arguments: [
        // (event, new, old, expected)
        (UInt16(0), UInt16(1), UInt16(0), true),       // first entry, event 0 (§2.7.7 note)
        (UInt16(5), UInt16(6), UInt16(5), true),       // entry 5 written exactly
        (UInt16(5), UInt16(5), UInt16(4), false),      // entry 5 not yet written
        (UInt16(5), UInt16(9), UInt16(2), true),       // batch 2..8 covers 5
        (UInt16(10), UInt16(20), UInt16(11), false),   // event already behind the batch
        (UInt16(3), UInt16(3), UInt16(3), false),      // nothing new
        (UInt16(65535), UInt16(1), UInt16(65534), true),   // batch 65534, 65535, 0 wraps over the event
        (UInt16(0), UInt16(2), UInt16(65535), true),       // 65535, 0, 1 covers 0 after the wrap
        (UInt16(2), UInt16(2), UInt16(65535), false),      // 65535, 0, 1 stops short of 2
        (UInt16(65534), UInt16(0), UInt16(65535), false),  // only 65535 written, event behind
    ])
    func needsEventMatchesFormula(event: UInt16, new: UInt16, old: UInt16, expected: Bool) {
        #expect(SplitVirtqueue.needsEvent(eventIdx: event, newIdx: new, oldIdx: old) == expected)
    }
}

@Suite struct SplitVirtqueueTests {
    @Test func wrapAroundPast65535() throws {
        let pair = try QueuePair(size: 8, eventIndex: true)
        let rounds = 70_000
        for round in 0..<rounds {
            let token = Int32(round % 1000)
            let head = try #require(pair.addWritable(token: token, slot: round % 8))
            pair.driver.publish()
            let chain = try #require(try pair.device.takeAvailable())
            #expect(chain.head == head)
            pair.device.putUsed(head: chain.head, length: round % 64)
            _ = pair.device.publishUsed()
            let used = try #require(try pair.driver.takeUsed())
            #expect(used.token == token)
            #expect(used.length == UInt32(round % 64))
        }
        // 70000 mod 65536 = 4464 on both 16-bit indices.
        #expect(pair.driver.availIdx == 4464)
        #expect(pair.driver.lastUsedIdx == 4464)
        #expect(pair.device.usedIdx == 4464)
        #expect(pair.driver.freeCount == 8)
    }

    @Test func wrapAroundWithFullBatches() throws {
        let pair = try QueuePair(size: 8, eventIndex: false)
        // 8200 batches of 8 buffers: 65600 entries, crossing 65535 mid-batch.
        for batch in 0..<8200 {
            for slot in 0..<8 {
                _ = try #require(pair.addWritable(token: Int32(slot), slot: slot))
            }
            #expect(pair.addWritable(token: 99, slot: 0) == nil)
            pair.driver.publish()
            var heads: [UInt16] = []
            while let chain = try pair.device.takeAvailable() { heads.append(chain.head) }
            #expect(heads.count == 8)
            for head in heads { pair.device.putUsed(head: head, length: batch % 7) }
            _ = pair.device.publishUsed()
            var tokens: [Int32] = []
            while let used = try pair.driver.takeUsed() { tokens.append(used.token) }
            #expect(tokens.sorted() == Array(0..<8))
        }
        #expect(pair.driver.availIdx == UInt16(65600 - 65536))
        #expect(pair.driver.freeCount == 8)
    }

    @Test func outOfOrderCompletion() throws {
        let pair = try QueuePair(size: 8, eventIndex: false)
        var heads: [UInt16] = []
        for token in Int32(10)..<14 { heads.append(try #require(pair.addWritable(token: token, slot: Int(token) - 10))) }
        pair.driver.publish()
        var chains: [SimulatedChain] = []
        while let chain = try pair.device.takeAvailable() { chains.append(chain) }
        #expect(chains.map(\.head) == heads)

        for index in [2, 0, 3, 1] { pair.device.putUsed(head: chains[index].head, length: 10 + index) }
        _ = pair.device.publishUsed()
        var completed: [(Int32, UInt32)] = []
        while let used = try pair.driver.takeUsed() { completed.append((used.token, used.length)) }
        #expect(completed.map(\.0) == [12, 10, 13, 11])
        #expect(completed.map(\.1) == [12, 10, 13, 11])
        #expect(pair.driver.freeCount == 8)

        // The free list, rebuilt out of order, still yields valid chains.
        for token in Int32(0)..<4 {
            let address = pair.buffers.deviceAddress(atOffset: Int(token) * QueuePair.bufferSize)
            _ = try #require(pair.driver.addChain(elementCount: 2, token: token) { i in
                VirtqBufferElement(address: address + UInt64(i * 16), length: 16, deviceWritable: i == 1)
            })
        }
        #expect(pair.driver.freeCount == 0)
        pair.driver.publish()
        var seen = 0
        while let chain = try pair.device.takeAvailable() {
            #expect(chain.readable.count == 1)
            #expect(chain.writable.count == 1)
            seen += 1
        }
        #expect(seen == 4)
    }

    @Test func usedEntryNotInFlightIsRejected() throws {
        let pair = try QueuePair(size: 8, eventIndex: false)
        let head = try #require(pair.addWritable(token: 1, slot: 0))
        pair.driver.publish()
        _ = try pair.device.takeAvailable()
        pair.device.putUsed(head: head &+ 3, length: 0)
        _ = pair.device.publishUsed()
        #expect(throws: VirtioError.self) { try pair.driver.takeUsed() }
    }

    @Test func kickFollowsNoNotifyFlag() throws {
        let pair = try QueuePair(size: 8, eventIndex: false)
        pair.addWritable(token: 0, slot: 0)
        pair.driver.publish()
        #expect(pair.driver.needsNotification())
        // Nothing new since the last decision.
        #expect(!pair.driver.needsNotification())

        pair.device.requestAvailableNotification(afterEntries: 2)   // sets VIRTQ_USED_F_NO_NOTIFY
        pair.addWritable(token: 1, slot: 1)
        pair.driver.publish()
        #expect(!pair.driver.needsNotification())

        pair.device.requestAvailableNotification(afterEntries: 1)   // clears it
        pair.addWritable(token: 2, slot: 2)
        pair.driver.publish()
        #expect(pair.driver.needsNotification())
    }

    @Test func kickFollowsAvailEvent() throws {
        let pair = try QueuePair(size: 8, eventIndex: true)
        // avail_event starts at 0: writing entry 0 requires a notification.
        pair.addWritable(token: 0, slot: 0)
        pair.driver.publish()
        #expect(pair.driver.needsNotification())
        _ = try pair.device.takeAvailable()

        // The device requests the next notification at entry 1 + 3 - 1 = 3.
        pair.device.requestAvailableNotification(afterEntries: 3)
        #expect(pair.device.availEvent == 3)
        pair.addWritable(token: 1, slot: 1)   // entry 1
        pair.driver.publish()
        #expect(!pair.driver.needsNotification())
        pair.addWritable(token: 2, slot: 2)   // entry 2
        pair.driver.publish()
        #expect(!pair.driver.needsNotification())
        pair.addWritable(token: 3, slot: 3)   // entry 3 == avail_event
        pair.addWritable(token: 4, slot: 4)   // entry 4, same batch
        pair.driver.publish()
        #expect(pair.driver.needsNotification())
    }

    @Test func usedNotificationSuppressionWithFlags() throws {
        let pair = try QueuePair(size: 8, eventIndex: false)
        pair.driver.disableUsedNotifications()
        let first = try #require(pair.addWritable(token: 0, slot: 0))
        let second = try #require(pair.addWritable(token: 1, slot: 1))
        pair.driver.publish()
        _ = try pair.device.takeAvailable()
        _ = try pair.device.takeAvailable()
        pair.device.putUsed(head: first, length: 1)
        #expect(!pair.device.publishUsed())

        // One used buffer is waiting: enabling reports it instead of sleeping.
        #expect(!pair.driver.enableUsedNotifications())
        _ = try pair.driver.takeUsed()
        #expect(pair.driver.enableUsedNotifications())
        pair.device.putUsed(head: second, length: 1)
        #expect(pair.device.publishUsed())
    }

    @Test func usedNotificationSuppressionWithUsedEvent() throws {
        let pair = try QueuePair(size: 8, eventIndex: true)
        for slot in 0..<4 { pair.addWritable(token: Int32(slot), slot: slot) }
        pair.driver.publish()
        var heads: [UInt16] = []
        while let chain = try pair.device.takeAvailable() { heads.append(chain.head) }

        // used_event = 0 (lastUsedIdx): the entry at position 0 notifies.
        #expect(pair.driver.enableUsedNotifications())
        pair.device.putUsed(head: heads[0], length: 0)
        #expect(pair.device.publishUsed())
        // Position 1 is past used_event: no notification (§2.7.7).
        pair.device.putUsed(head: heads[1], length: 0)
        #expect(!pair.device.publishUsed())

        // Disabled: used_event moves behind lastUsedIdx, 65535 entries away.
        _ = try pair.driver.takeUsed()
        _ = try pair.driver.takeUsed()
        pair.driver.disableUsedNotifications()
        pair.device.putUsed(head: heads[2], length: 0)
        #expect(!pair.device.publishUsed())
        // Re-enabled while an entry waits: the driver must poll first.
        #expect(!pair.driver.enableUsedNotifications())
        _ = try pair.driver.takeUsed()
        #expect(pair.driver.enableUsedNotifications())
        pair.device.putUsed(head: heads[3], length: 0)
        #expect(pair.device.publishUsed())
    }
}
