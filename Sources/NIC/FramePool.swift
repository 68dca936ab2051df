/// Preallocated frame memory: `slotCount` fixed-size slots in one allocation.
///
/// The hot path moves slot indices and lengths (`Frame`), never class
/// instances, so receiving, processing and transmitting a frame allocates
/// nothing. The pool is owned by one thread (the stack's run loop); it is not
/// thread-safe.
public final class FramePool {
    /// Bytes per slot. Large enough for the device MTU plus the 14-byte
    /// Ethernet header (and a VLAN tag or virtio-net header in front).
    public let slotSize: Int
    public let slotCount: Int
    public let base: UnsafeMutableRawPointer

    private var freeSlots: UnsafeMutablePointer<Int32>
    public private(set) var freeCount: Int

    /// Default slot size: a 1500-byte MTU frame plus headroom, rounded to a
    /// cache-friendly 2 KiB.
    public static let defaultSlotSize = 2048

    public init(slotCount: Int, slotSize: Int = FramePool.defaultSlotSize) {
        precondition(slotCount > 0 && slotCount <= Int(Int32.max), "slotCount out of range: \(slotCount)")
        precondition(slotSize >= 64, "slotSize too small: \(slotSize)")
        self.slotSize = slotSize
        self.slotCount = slotCount
        base = UnsafeMutableRawPointer.allocate(byteCount: slotSize * slotCount, alignment: 64)
        freeSlots = UnsafeMutablePointer<Int32>.allocate(capacity: slotCount)
        for i in 0..<slotCount { freeSlots[i] = Int32(slotCount - 1 - i) }
        freeCount = slotCount
    }

    deinit {
        base.deallocate()
        freeSlots.deallocate()
    }

    /// Takes a free slot, or returns nil when all are in use (the caller
    /// counts a drop with reason "pool exhausted").
    @inlinable public func allocate() -> Int32? {
        guard freeCount > 0 else { return nil }
        return takeSlot()
    }

    @usableFromInline func takeSlot() -> Int32 {
        freeCount -= 1
        return freeSlots[freeCount]
    }

    /// Returns a slot to the pool. Releasing a slot twice corrupts the pool.
    @inlinable public func release(_ slot: Int32) {
        returnSlot(slot)
    }

    @usableFromInline func returnSlot(_ slot: Int32) {
        assert(slot >= 0 && Int(slot) < slotCount && freeCount < slotCount, "bad frame slot release: \(slot)")
        freeSlots[freeCount] = slot
        freeCount += 1
    }

    /// The whole slot's memory.
    @inlinable public func buffer(_ slot: Int32) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: base + Int(slot) * slotSize, count: slotSize)
    }

    /// The first `frame.length` bytes of the frame's slot.
    @inlinable public func bytes(_ frame: Frame) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: base + Int(frame.slot) * slotSize, count: Int(frame.length))
    }
}

/// One frame: a pool slot and the number of valid bytes in it, starting at the
/// Ethernet destination address (no preamble, no FCS).
public struct Frame: Hashable, Sendable {
    public var slot: Int32
    public var length: Int32

    @inlinable public init(slot: Int32, length: Int) {
        self.slot = slot
        self.length = Int32(length)
    }
}

/// A fixed-capacity list of frames moved between the stack and a device in
/// one call. Its storage is allocated once; `append` never allocates.
public struct FrameBatch: ~Copyable {
    public let capacity: Int
    public private(set) var count: Int = 0
    private let storage: UnsafeMutablePointer<Frame>

    public init(capacity: Int) {
        precondition(capacity > 0, "batch capacity must be positive: \(capacity)")
        self.capacity = capacity
        storage = UnsafeMutablePointer<Frame>.allocate(capacity: capacity)
    }

    deinit { storage.deallocate() }

    public var isFull: Bool { count == capacity }
    public var isEmpty: Bool { count == 0 }

    /// Appends a frame; returns false (and appends nothing) when full.
    @discardableResult
    public mutating func append(_ frame: Frame) -> Bool {
        guard count < capacity else { return false }
        storage[count] = frame
        count += 1
        return true
    }

    public subscript(index: Int) -> Frame {
        get {
            precondition(index >= 0 && index < count, "frame index \(index) out of range 0..<\(count)")
            return storage[index]
        }
        set {
            precondition(index >= 0 && index < count, "frame index \(index) out of range 0..<\(count)")
            storage[index] = newValue
        }
    }

    /// Forgets every frame without releasing their slots (the new owner has them).
    public mutating func removeAll() { count = 0 }

    /// Releases every frame's slot back to `pool` and empties the batch.
    public mutating func releaseAll(to pool: FramePool) {
        for i in 0..<count { pool.release(storage[i].slot) }
        count = 0
    }

    /// Keeps the frames for which `keep` returns true, in order; the others
    /// are passed to `drop` (which usually releases their slots).
    public mutating func filter(keep: (Frame) -> Bool, drop: (Frame) -> Void) {
        var kept = 0
        for i in 0..<count {
            let frame = storage[i]
            if keep(frame) {
                storage[kept] = frame
                kept += 1
            } else {
                drop(frame)
            }
        }
        count = kept
    }
}
