import NIC

/// One buffer the simulated device took from an available ring: the head
/// of its chain and the memory of its elements, readable ones first.
public struct SimulatedChain {
    public var head: UInt16
    public var readable: [UnsafeMutableRawBufferPointer] = []
    public var writable: [UnsafeMutableRawBufferPointer] = []

    /// Total bytes the device may write.
    public var writableCapacity: Int { writable.reduce(0) { $0 + $1.count } }

    /// Returns the readable bytes concatenated.
    public func readAll() -> [UInt8] {
        var bytes: [UInt8] = []
        for element in readable { bytes.append(contentsOf: element) }
        return bytes
    }

    /// Writes `bytes` across the writable elements from the start; returns
    /// the count written (at most `writableCapacity`).
    @discardableResult
    public func write(_ bytes: ArraySlice<UInt8>) -> Int {
        var remaining = bytes
        for element in writable where !remaining.isEmpty {
            let count = min(element.count, remaining.count)
            element.copyBytes(from: remaining.prefix(count))
            remaining = remaining.dropFirst(count)
        }
        return bytes.count - remaining.count
    }
}

/// The device side of one split virtqueue over the driver's memory.
///
/// It reads the rings with its own field offsets, written from the spec's
/// structures (virtio 1.2 §2.7.5, §2.7.6, §2.7.8) rather than shared with the
/// driver, so a layout mistake on either side shows up as a failed test.
/// Used by one thread at a time (the owner's lock serializes it).
public final class SimulatedVirtqueue {
    public let index: UInt16
    public let size: Int
    public let eventIndex: Bool
    let descriptors: UnsafeMutableRawPointer
    let available: UnsafeMutableRawPointer
    public let used: UnsafeMutableRawPointer
    let memory: HostDMAAllocator

    /// The next available ring position the device reads.
    public private(set) var lastAvailIdx: UInt16 = 0
    /// The device's used idx, including entries not yet published.
    public private(set) var usedIdx: UInt16 = 0
    /// `used.idx` as last stored.
    public private(set) var publishedUsedIdx: UInt16 = 0

    // virtq_desc: le64 addr; le32 len; le16 flags; le16 next.
    static let descriptorSize = 16
    // virtq_avail / virtq_used: le16 flags; le16 idx; then the ring.
    static let idxOffset = 2
    static let ringOffset = 4
    static let usedElementSize = 8
    static let flagNext: UInt16 = 1
    static let flagWrite: UInt16 = 2
    static let flagIndirect: UInt16 = 4

    /// Attaches to a queue whose areas the driver placed at these device addresses.
    public init(index: UInt16, size: Int, eventIndex: Bool, descriptorArea: UInt64, driverArea: UInt64,
         deviceArea: UInt64, memory: HostDMAAllocator) throws {
        let descriptorBytes = Self.descriptorSize * size
        let availableBytes = 6 + 2 * size
        let usedBytes = 6 + Self.usedElementSize * size
        guard let descriptors = memory.pointer(forDeviceAddress: descriptorArea, byteCount: descriptorBytes),
              let available = memory.pointer(forDeviceAddress: driverArea, byteCount: availableBytes),
              let used = memory.pointer(forDeviceAddress: deviceArea, byteCount: usedBytes) else {
            throw VirtioError(.transportFailure, "simulated queue \(index): an area address is outside device-visible memory")
        }
        self.index = index
        self.size = size
        self.eventIndex = eventIndex
        self.descriptors = descriptors
        self.available = available
        self.used = used
        self.memory = memory
    }

    /// `used_event`, after the available ring's entries.
    var usedEventPointer: UnsafeMutableRawPointer { available + Self.ringOffset + 2 * size }
    /// `avail_event`, after the used ring's elements.
    var availEventPointer: UnsafeMutableRawPointer { used + Self.ringOffset + Self.usedElementSize * size }

    /// Chains the driver has published and the device has not taken.
    public var pendingAvailable: Int {
        Int(VirtioMemoryOrdering.loadAcquire(available + Self.idxOffset) &- lastAvailIdx)
    }

    /// Takes the next available chain, or nil when none is published.
    /// Throws for a chain the spec forbids: a head or `next` out of range,
    /// a loop, an indirect descriptor (never negotiated), a readable element
    /// after a writable one, or an address outside device-visible memory.
    public func takeAvailable() throws -> SimulatedChain? {
        guard pendingAvailable > 0 else { return nil }
        let position = Int(lastAvailIdx) % size
        let head = UInt16(littleEndian: (available + Self.ringOffset + 2 * position).load(as: UInt16.self))
        lastAvailIdx &+= 1
        guard Int(head) < size else { throw violation("available entry names descriptor \(head) of \(size)") }

        var chain = SimulatedChain(head: head)
        var current = head
        for _ in 0..<size {
            let descriptor = descriptors + Int(current) * Self.descriptorSize
            let address = UInt64(littleEndian: descriptor.load(as: UInt64.self))
            let length = Int(UInt32(littleEndian: descriptor.load(fromByteOffset: 8, as: UInt32.self)))
            let flags = UInt16(littleEndian: descriptor.load(fromByteOffset: 12, as: UInt16.self))
            let next = UInt16(littleEndian: descriptor.load(fromByteOffset: 14, as: UInt16.self))
            guard flags & Self.flagIndirect == 0 else { throw violation("indirect descriptor \(current) without VIRTIO_F_INDIRECT_DESC") }
            guard let pointer = memory.pointer(forDeviceAddress: address, byteCount: length) else {
                throw violation("descriptor \(current) address \(address) length \(length) is outside device-visible memory")
            }
            let element = UnsafeMutableRawBufferPointer(start: pointer, count: length)
            if flags & Self.flagWrite != 0 {
                chain.writable.append(element)
            } else {
                guard chain.writable.isEmpty else { throw violation("readable descriptor \(current) after a writable one") }
                chain.readable.append(element)
            }
            guard flags & Self.flagNext != 0 else { return chain }
            guard Int(next) < size else { throw violation("descriptor \(current) next \(next) is out of range") }
            current = next
        }
        throw violation("descriptor chain from head \(head) is longer than the queue (a loop)")
    }

    /// Moves the available position back by `count` entries.
    public func rewind(_ count: Int) {
        lastAvailIdx &-= UInt16(truncatingIfNeeded: count)
    }

    /// Writes a used element at the next used position; the driver sees it
    /// after `publishUsed()`.
    public func putUsed(head: UInt16, length: Int) {
        let element = used + Self.ringOffset + Int(usedIdx) % size * Self.usedElementSize
        element.storeBytes(of: UInt32(head).littleEndian, as: UInt32.self)
        element.storeBytes(of: UInt32(truncatingIfNeeded: length).littleEndian, toByteOffset: 4, as: UInt32.self)
        usedIdx &+= 1
    }

    /// Stores `used.idx` and returns whether the driver asked for a used
    /// buffer notification (§2.7.7), deciding per position as the spec
    /// words it: notify if any entry was placed at position `used_event`.
    public func publishUsed() -> Bool {
        let old = publishedUsedIdx
        let new = usedIdx
        guard old != new else { return false }
        VirtioMemoryOrdering.storeRelease(new, used + Self.idxOffset)
        publishedUsedIdx = new
        VirtioMemoryOrdering.fullFence()
        if eventIndex {
            let usedEvent = VirtioMemoryOrdering.loadRelaxed(usedEventPointer)
            var position = old
            while position != new {
                if position == usedEvent { return true }
                position &+= 1
            }
            return false
        }
        return VirtioMemoryOrdering.loadRelaxed(available) & VirtqAvailFlags.noInterrupt == 0
    }

    /// Asks the driver for an available buffer notification only once it
    /// writes the entry at `lastAvailIdx + interval - 1` (§2.7.10 with
    /// EVENT_IDX), or, without EVENT_IDX, sets or clears VIRTQ_USED_F_NO_NOTIFY.
    public func requestAvailableNotification(afterEntries interval: Int) {
        if eventIndex {
            VirtioMemoryOrdering.storeRelaxed(lastAvailIdx &+ UInt16(truncatingIfNeeded: interval - 1), availEventPointer)
        } else {
            VirtioMemoryOrdering.storeRelaxed(interval == 1 ? 0 : VirtqUsedFlags.noNotify, used)
        }
        VirtioMemoryOrdering.fullFence()
    }

    /// `avail_event` as the device last wrote it.
    public var availEvent: UInt16 { VirtioMemoryOrdering.loadRelaxed(availEventPointer) }

    private func violation(_ message: String) -> VirtioError {
        VirtioError(.deviceProtocolViolation, "driver broke the virtqueue contract on queue \(index): \(message)")
    }
}
