import Synchronization

/// A mapped device register window (a PCI BAR range) with little-endian
/// accessors of fixed width.
///
/// Each access is a relaxed atomic load or store of exactly the named width,
/// so the compiler neither merges, splits nor drops it, as MMIO requires.
/// The caller keeps offsets inside `byteCount`, which the transport checks
/// against each capability's `length` once when it opens the device.
public struct MMIORegion: @unchecked Sendable {
    public let base: UnsafeMutableRawPointer
    public let byteCount: Int

    public init(base: UnsafeMutableRawPointer, byteCount: Int) {
        self.base = base
        self.byteCount = byteCount
    }

    public func read8(_ offset: Int) -> UInt8 {
        (base + offset).assumingMemoryBound(to: Atomic<UInt8>.self).pointee.load(ordering: .relaxed)
    }

    public func read16(_ offset: Int) -> UInt16 {
        UInt16(littleEndian: (base + offset).assumingMemoryBound(to: Atomic<UInt16>.self).pointee.load(ordering: .relaxed))
    }

    public func read32(_ offset: Int) -> UInt32 {
        UInt32(littleEndian: (base + offset).assumingMemoryBound(to: Atomic<UInt32>.self).pointee.load(ordering: .relaxed))
    }

    public func write8(_ offset: Int, _ value: UInt8) {
        (base + offset).assumingMemoryBound(to: Atomic<UInt8>.self).pointee.store(value, ordering: .relaxed)
    }

    public func write16(_ offset: Int, _ value: UInt16) {
        (base + offset).assumingMemoryBound(to: Atomic<UInt16>.self).pointee.store(value.littleEndian, ordering: .relaxed)
    }

    public func write32(_ offset: Int, _ value: UInt32) {
        (base + offset).assumingMemoryBound(to: Atomic<UInt32>.self).pointee.store(value.littleEndian, ordering: .relaxed)
    }

    /// Writes a 64-bit field as its low then high 32-bit half, which
    /// virtio 1.2 §4.1.3.1 allows for the common configuration structure.
    public func write64(_ offset: Int, _ value: UInt64) {
        write32(offset, UInt32(truncatingIfNeeded: value))
        write32(offset + 4, UInt32(truncatingIfNeeded: value >> 32))
    }

    /// Returns the sub-window of `count` bytes at `offset`, or nil when it does not fit.
    public func slice(offset: Int, count: Int) -> MMIORegion? {
        guard offset >= 0, count >= 0, offset <= byteCount - count else { return nil }
        return MMIORegion(base: base + offset, byteCount: count)
    }
}
