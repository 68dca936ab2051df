/// A range of memory the device can read and write by DMA, with the address
/// the device uses for its first byte.
///
/// The device address is what descriptors and queue registers carry: a
/// guest-physical address, or an I/O virtual address when an IOMMU
/// translates (VFIO). The driver never hands the device a process pointer.
public final class DMARegion {
    public let base: UnsafeMutableRawPointer
    public let byteCount: Int
    /// The device's address for `base`.
    public let deviceAddress: UInt64
    private let onRelease: (() -> Void)?

    /// Wraps memory that `onRelease` unmaps or frees when the region is released.
    public init(base: UnsafeMutableRawPointer, byteCount: Int, deviceAddress: UInt64,
                onRelease: (() -> Void)?) {
        self.base = base
        self.byteCount = byteCount
        self.deviceAddress = deviceAddress
        self.onRelease = onRelease
    }

    deinit { onRelease?() }

    /// The device address of `base + offset`. The caller keeps `offset`
    /// inside the region.
    @inlinable public func deviceAddress(atOffset offset: Int) -> UInt64 {
        deviceAddress &+ UInt64(offset)
    }

    /// Whether `byteCount` bytes at `offset` lie inside the region.
    @inlinable public func contains(offset: Int, byteCount count: Int) -> Bool {
        offset >= 0 && count >= 0 && offset <= byteCount - count
    }
}

/// The source of device-visible memory for one device: allocates rings and
/// header areas, and maps the frame pool so receive buffers are written in place.
///
/// VFIO implements it with `VFIO_IOMMU_MAP_DMA`; the host simulator hands
/// out plain memory whose device addresses it can translate back.
public protocol DMAAllocator: AnyObject {
    /// Allocates `byteCount` zeroed bytes aligned to `alignment`, visible to the device.
    func allocate(byteCount: Int, alignment: Int) throws -> DMARegion

    /// Makes existing memory visible to the device, without copying. The
    /// caller keeps the memory alive for as long as the region lives.
    func map(_ base: UnsafeMutableRawPointer, byteCount: Int) throws -> DMARegion
}
