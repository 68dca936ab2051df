import Foundation
import NIC
import Synchronization

/// Device-visible memory for a simulated device: plain process memory whose
/// device address is its virtual address plus `addressOffset`.
///
/// With an offset of 0 the addresses are the identity, as on a host without
/// an IOMMU. A nonzero offset makes every descriptor address differ from
/// the pointer, so a driver that hands out a pointer where a device address
/// belongs fails to translate in `pointer(forDeviceAddress:byteCount:)`.
/// Thread-safe: the simulated device may translate from its own thread.
public final class HostDMAAllocator: DMAAllocator {
    public let addressOffset: UInt64

    struct Mapping {
        var base: UnsafeMutableRawPointer
        var byteCount: Int
    }
    private let mappings = Mutex([UInt64: Mapping]())

    public init(addressOffset: UInt64 = 0) {
        self.addressOffset = addressOffset
    }

    public func allocate(byteCount: Int, alignment: Int) throws -> DMARegion {
        guard byteCount > 0 else {
            throw VirtioError(.invalidConfiguration, "DMA allocation of \(byteCount) bytes is invalid")
        }
        let base = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: alignment)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount)
        return record(base, byteCount: byteCount) { base.deallocate() }
    }

    public func map(_ base: UnsafeMutableRawPointer, byteCount: Int) throws -> DMARegion {
        record(base, byteCount: byteCount, release: nil)
    }

    private func record(_ base: UnsafeMutableRawPointer, byteCount: Int, release: (() -> Void)?) -> DMARegion {
        let deviceAddress = UInt64(UInt(bitPattern: base)) &+ addressOffset
        mappings.withLock { $0[deviceAddress] = Mapping(base: base, byteCount: byteCount) }
        return DMARegion(base: base, byteCount: byteCount, deviceAddress: deviceAddress) { [weak self] in
            self?.mappings.withLock { _ = $0.removeValue(forKey: deviceAddress) }
            release?()
        }
    }

    /// Translates a device address to memory. Returns nil unless all
    /// `byteCount` bytes lie inside one live region, where hardware would
    /// raise an IOMMU fault.
    public func pointer(forDeviceAddress address: UInt64, byteCount: Int) -> UnsafeMutableRawPointer? {
        mappings.withLock { mappings in
            for (start, mapping) in mappings where address >= start {
                let offset = address - start
                if offset <= UInt64(mapping.byteCount), UInt64(byteCount) <= UInt64(mapping.byteCount) - offset {
                    return mapping.base + Int(offset)
                }
            }
            return nil
        }
    }
}
