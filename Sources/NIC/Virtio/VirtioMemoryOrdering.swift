import Synchronization

/// Every access to memory shared with a virtio device that needs ordering,
/// in one place, with the reason each barrier is enough.
///
/// The driver and the device run concurrently (a host thread, a hypervisor,
/// or in tests another thread of this process) and share the descriptor
/// table, the available ring, the used ring and the buffers. Only the ring
/// indices and notification fields are read while the other side may write
/// them, so only those go through here, as atomic 16-bit loads and stores on
/// the shared memory. The descriptors and buffers are plain memory: the
/// acquire and release pairs on the indices order them.
///
/// The four orderings the split virtqueue needs (virtio 1.2 §2.7.13, §2.7.14):
/// 1. Publishing buffers: descriptors and `avail.ring` entries, then
///    `avail.idx`. A release store of `idx` is enough, because the device
///    reads `idx` with acquire before it reads the entries (§2.7.13.3).
/// 2. Deciding whether to notify: the `avail.idx` store must be visible
///    before `used.flags` or `avail_event` is read (§2.7.13.4). This is a
///    store followed by a load of another location, which release and
///    acquire do not order, so a full fence sits between them.
/// 3. Harvesting: an acquire load of `used.idx` before reading
///    `used.ring` entries and the buffers the device wrote (§2.7.8).
/// 4. Re-enabling used buffer notifications: the `used_event` or `flags`
///    store, then a re-read of `used.idx` (§2.7.14). Store then load again,
///    so a full fence.
///
/// On x86-64 (TSO) the acquire and release accesses compile to plain moves
/// and only the full fence emits an instruction (`mfence` or a locked
/// operation). These are SMP barriers, which suffice for a device emulated
/// in software; a hardware device that offers VIRTIO_F_ORDER_PLATFORM would
/// need I/O barriers, and this driver does not accept that feature.
public enum VirtioMemoryOrdering {
    /// Loads a 16-bit ring field that the other side writes, with acquire
    /// ordering: later reads of memory it published see its earlier writes.
    @inlinable @inline(__always)
    public static func loadAcquire(_ address: UnsafeMutableRawPointer) -> UInt16 {
        UInt16(littleEndian: atomicField(address).pointee.load(ordering: .acquiring))
    }

    /// Loads a 16-bit field with no ordering, for hints such as `flags`
    /// that are read right after a full fence.
    @inlinable @inline(__always)
    public static func loadRelaxed(_ address: UnsafeMutableRawPointer) -> UInt16 {
        UInt16(littleEndian: atomicField(address).pointee.load(ordering: .relaxed))
    }

    /// Stores a 16-bit ring field with release ordering: the other side,
    /// after an acquire load of it, sees every earlier write of ours.
    @inlinable @inline(__always)
    public static func storeRelease(_ value: UInt16, _ address: UnsafeMutableRawPointer) {
        atomicField(address).pointee.store(value.littleEndian, ordering: .releasing)
    }

    /// Stores a 16-bit field with no ordering (a fence follows it).
    @inlinable @inline(__always)
    public static func storeRelaxed(_ value: UInt16, _ address: UnsafeMutableRawPointer) {
        atomicField(address).pointee.store(value.littleEndian, ordering: .relaxed)
    }

    /// A full (sequentially consistent) fence: orders our earlier stores
    /// before our later loads, the one reordering TSO still allows.
    @inlinable @inline(__always)
    public static func fullFence() {
        atomicMemoryFence(ordering: .sequentiallyConsistent)
    }

    /// Views a naturally aligned 16-bit field as an atomic. `Atomic<UInt16>`
    /// has the size and alignment of `UInt16`, and ring fields are 2-byte
    /// aligned by the layout (§2.7, alignment table), so the view is valid.
    @inlinable @inline(__always)
    static func atomicField(_ address: UnsafeMutableRawPointer) -> UnsafeMutablePointer<Atomic<UInt16>> {
        address.assumingMemoryBound(to: Atomic<UInt16>.self)
    }
}
