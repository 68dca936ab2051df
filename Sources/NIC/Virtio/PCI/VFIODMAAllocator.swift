#if canImport(Glibc)
import Glibc
#endif

/// Device-visible memory through the VFIO container's IOMMU: each region is
/// mapped at an I/O virtual address handed out in increasing order.
///
/// IOVAs start at 4 GiB, above the 32-bit range where x86 reserves the MSI
/// window (0xFEE00000), and stay far below 2^39, the smallest address width
/// of QEMU's intel-iommu. NOTE: the range is not read from
/// VFIO_IOMMU_GET_INFO's valid-IOVA capability; a platform with another
/// aperture would need that.
final class VFIODMAAllocator: DMAAllocator {
    let device: VFIODevice
    let pageSize: Int
    private var nextIOVA: UInt64 = VFIODMAAllocator.firstIOVA

    static let firstIOVA: UInt64 = 1 << 32

    init(device: VFIODevice) {
        self.device = device
        pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    func allocate(byteCount: Int, alignment: Int) throws -> DMARegion {
        guard byteCount > 0, alignment <= pageSize else {
            throw VirtioError(.invalidConfiguration, "DMA allocation of \(byteCount) bytes aligned to \(alignment) is invalid (page size \(pageSize))")
        }
        let size = roundUp(byteCount)
        // Anonymous mappings are zeroed and page-aligned.
        guard let base = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              base != MAP_FAILED else {
            throw VirtioError(.transportFailure, "allocating \(size) bytes of DMA memory failed (errno \(errno))")
        }
        let iova = takeIOVA(size)
        do {
            try device.mapDMA(vaddr: base, iova: iova, size: size)
        } catch {
            munmap(base, size)
            throw error
        }
        return DMARegion(base: base, byteCount: byteCount, deviceAddress: iova) { [device] in
            device.unmapDMA(iova: iova, size: size)
            munmap(base, size)
        }
    }

    func map(_ base: UnsafeMutableRawPointer, byteCount: Int) throws -> DMARegion {
        // The IOMMU maps whole pages, so map the pages around the range
        // and point the region's device address at its first byte.
        let address = UInt(bitPattern: base)
        let pageStart = address & ~UInt(pageSize - 1)
        let leading = Int(address - pageStart)
        let size = roundUp(leading + byteCount)
        let iova = takeIOVA(size)
        // Safe: `pageStart` is `base` rounded down inside the same mapping.
        try device.mapDMA(vaddr: UnsafeMutableRawPointer(bitPattern: pageStart)!, iova: iova, size: size)
        return DMARegion(base: base, byteCount: byteCount, deviceAddress: iova + UInt64(leading)) { [device] in
            device.unmapDMA(iova: iova, size: size)
        }
    }

    private func takeIOVA(_ size: Int) -> UInt64 {
        let iova = nextIOVA
        nextIOVA += UInt64(size)
        return iova
    }

    private func roundUp(_ value: Int) -> Int {
        (value + pageSize - 1) / pageSize * pageSize
    }
}
