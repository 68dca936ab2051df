#if canImport(Glibc)
import Glibc
#endif

/// ioctl numbers and flags from <linux/vfio.h>, checked against the Debian
/// 12 kernel headers (linux-libc-dev 6.1.187): `_IO(';', 100 + n)`.
enum VFIO {
    static let apiVersion: Int32 = 0
    static let getAPIVersion: UInt = 0x3B64
    static let checkExtension: UInt = 0x3B65
    static let setIOMMU: UInt = 0x3B66
    static let groupGetStatus: UInt = 0x3B67
    static let groupSetContainer: UInt = 0x3B68
    static let groupGetDeviceFD: UInt = 0x3B6A
    static let deviceGetRegionInfo: UInt = 0x3B6C
    static let deviceSetIRQs: UInt = 0x3B6E
    static let iommuMapDMA: UInt = 0x3B71
    static let iommuUnmapDMA: UInt = 0x3B72

    static let type1v2IOMMU: Int32 = 3
    static let groupFlagsViable: UInt32 = 1
    static let regionInfoFlagMmap: UInt32 = 4
    static let dmaMapFlagRead: UInt32 = 1
    static let dmaMapFlagWrite: UInt32 = 2
    static let irqSetDataNone: UInt32 = 1
    static let irqSetDataEventfd: UInt32 = 4
    static let irqSetActionTrigger: UInt32 = 32
    static let pciMSIXIRQIndex: UInt32 = 2
    static let pciConfigRegionIndex: UInt32 = 7

    // Sizes and field offsets of the ioctl structures (same header).
    static let regionInfoSize = 32          // argsz, flags, index, cap_offset, size@16, offset@24
    static let dmaMapSize = 32              // argsz, flags, vaddr@8, iova@16, size@24
    static let dmaUnmapSize = 24            // argsz, flags, iova@8, size@16
    static let irqSetHeaderSize = 20        // argsz, flags, index@8, start@12, count@16, data@20
    static let groupStatusSize = 8          // argsz, flags@4
}

/// A PCI device opened through VFIO: its container (one IOMMU domain),
/// group and device file descriptors, its configuration space and BARs.
///
/// Setup order: container, API version and type1 IOMMU check, the
/// device's IOMMU group, group viability, group into container, IOMMU
/// type, device fd.
///
/// NOTE: tested only in the QEMU guest of `image/run-virtio-guest.sh`
/// (q35, emulated Intel IOMMU, Debian 6.1 kernel); no host test reaches it.
final class VFIODevice {
    let pciAddress: String
    let containerFD: Int32
    let groupFD: Int32
    let deviceFD: Int32
    private var mappedBARs: [(pointer: UnsafeMutableRawPointer, size: Int)] = []

    init(pciAddress: String) throws {
        self.pciAddress = pciAddress
        let groupNumber = try Self.iommuGroup(of: pciAddress)

        // 1. The container and its API version.
        let container = try Self.openFile("/dev/vfio/vfio", pciAddress)
        guard ioctl(container, VFIO.getAPIVersion) == VFIO.apiVersion,
              ioctl(container, VFIO.checkExtension, CInt(VFIO.type1v2IOMMU)) > 0 else {
            close(container)
            throw VirtioError(.transportFailure, "\(pciAddress): VFIO API version or type1v2 IOMMU not supported by this kernel")
        }

        // 2. The group must be viable: every device in it bound to vfio-pci.
        let group: Int32
        do {
            group = try Self.openFile("/dev/vfio/\(groupNumber)", pciAddress)
        } catch {
            close(container)
            throw error
        }
        var status = [UInt8](repeating: 0, count: VFIO.groupStatusSize)
        Self.store(UInt32(VFIO.groupStatusSize), at: 0, in: &status)
        let statusResult = status.withUnsafeMutableBytes { ioctl(group, VFIO.groupGetStatus, $0.baseAddress!) }
        guard statusResult == 0, Self.load32(status, 4) & VFIO.groupFlagsViable != 0 else {
            close(group)
            close(container)
            throw VirtioError(.transportFailure,
                              "\(pciAddress): IOMMU group \(groupNumber) is not viable; bind every device in /sys/kernel/iommu_groups/\(groupNumber)/devices to vfio-pci")
        }

        // 3. Group into the container, then the IOMMU model, then the device.
        var containerValue = container
        guard ioctl(group, VFIO.groupSetContainer, &containerValue) == 0,
              ioctl(container, VFIO.setIOMMU, CInt(VFIO.type1v2IOMMU)) == 0 else {
            close(group)
            close(container)
            throw VirtioError(.transportFailure, "\(pciAddress): attaching IOMMU group \(groupNumber) to a VFIO container failed (errno \(errno))")
        }
        let device = pciAddress.withCString { ioctl(group, VFIO.groupGetDeviceFD, UnsafeMutableRawPointer(mutating: $0)) }
        guard device >= 0 else {
            close(group)
            close(container)
            throw VirtioError(.transportFailure, "\(pciAddress): VFIO_GROUP_GET_DEVICE_FD failed (errno \(errno)); is the device bound to vfio-pci?")
        }
        containerFD = container
        groupFD = group
        deviceFD = device
    }

    deinit {
        for bar in mappedBARs { munmap(bar.pointer, bar.size) }
        close(deviceFD)
        close(groupFD)
        close(containerFD)
    }

    /// Reads the group number from the `/sys/bus/pci/devices/ADDRESS/iommu_group` link.
    static func iommuGroup(of pciAddress: String) throws -> String {
        let link = "/sys/bus/pci/devices/\(pciAddress)/iommu_group"
        var target = [CChar](repeating: 0, count: Int(PATH_MAX))
        let length = readlink(link, &target, target.count - 1)
        guard length > 0 else {
            throw VirtioError(.transportFailure, "\(pciAddress): no IOMMU group at \(link); check the PCI address and that the kernel runs with an IOMMU (intel_iommu=on)")
        }
        let path = String(decoding: target[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return String(path.split(separator: "/").last ?? "")
    }

    static func openFile(_ path: String, _ pciAddress: String) throws -> Int32 {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else {
            throw VirtioError(.transportFailure, "\(pciAddress): opening \(path) failed (errno \(errno)); load vfio-pci and run as root")
        }
        return fd
    }

    /// Size, file offset and flags of VFIO region `index` (a BAR or the config space).
    func regionInfo(_ index: UInt32) throws -> (size: Int, offset: Int, flags: UInt32) {
        var info = [UInt8](repeating: 0, count: VFIO.regionInfoSize)
        Self.store(UInt32(VFIO.regionInfoSize), at: 0, in: &info)
        Self.store(index, at: 8, in: &info)
        let result = info.withUnsafeMutableBytes { ioctl(deviceFD, VFIO.deviceGetRegionInfo, $0.baseAddress!) }
        guard result == 0 else {
            throw VirtioError(.transportFailure, "\(pciAddress): VFIO_DEVICE_GET_REGION_INFO for region \(index) failed (errno \(errno))")
        }
        return (Int(Self.load64(info, 16)), Int(Self.load64(info, 24)), Self.load32(info, 4))
    }

    /// Reads the first `count` bytes of the PCI configuration space.
    func readConfigSpace(count: Int) throws -> [UInt8] {
        let region = try regionInfo(VFIO.pciConfigRegionIndex)
        var bytes = [UInt8](repeating: 0, count: count)
        let read = bytes.withUnsafeMutableBytes { pread(deviceFD, $0.baseAddress!, count, off_t(region.offset)) }
        guard read == count else {
            throw VirtioError(.transportFailure, "\(pciAddress): reading \(count) bytes of PCI configuration space failed (errno \(errno))")
        }
        return bytes
    }

    /// Writes a 16-bit configuration register (VFIO filters what it passes on).
    func writeConfig16(offset: Int, _ value: UInt16) throws {
        let region = try regionInfo(VFIO.pciConfigRegionIndex)
        var little = value.littleEndian
        guard pwrite(deviceFD, &little, 2, off_t(region.offset + offset)) == 2 else {
            throw VirtioError(.transportFailure, "\(pciAddress): writing PCI configuration offset \(offset) failed (errno \(errno))")
        }
    }

    /// Maps BAR `index` into the process.
    func mapBAR(_ index: Int) throws -> MMIORegion {
        let region = try regionInfo(UInt32(index))
        guard region.flags & VFIO.regionInfoFlagMmap != 0, region.size > 0 else {
            throw VirtioError(.transportFailure, "\(pciAddress): BAR \(index) cannot be memory-mapped through VFIO")
        }
        let pointer = mmap(nil, region.size, PROT_READ | PROT_WRITE, MAP_SHARED, deviceFD, off_t(region.offset))
        guard let pointer, pointer != MAP_FAILED else {
            throw VirtioError(.transportFailure, "\(pciAddress): mapping BAR \(index) failed (errno \(errno))")
        }
        mappedBARs.append((pointer, region.size))
        return MMIORegion(base: pointer, byteCount: region.size)
    }

    /// Routes MSI-X vectors 0..<fds.count to the eventfds, or turns MSI-X
    /// off when `fds` is empty (VFIO_DEVICE_SET_IRQS).
    func setMSIXEventfds(_ fds: [Int32]) throws {
        var request = [UInt8](repeating: 0, count: VFIO.irqSetHeaderSize + 4 * fds.count)
        Self.store(UInt32(request.count), at: 0, in: &request)
        let dataFlag = fds.isEmpty ? VFIO.irqSetDataNone : VFIO.irqSetDataEventfd
        Self.store(dataFlag | VFIO.irqSetActionTrigger, at: 4, in: &request)
        Self.store(VFIO.pciMSIXIRQIndex, at: 8, in: &request)
        Self.store(UInt32(0), at: 12, in: &request)
        Self.store(UInt32(fds.count), at: 16, in: &request)
        for (i, fd) in fds.enumerated() { Self.store(UInt32(bitPattern: fd), at: VFIO.irqSetHeaderSize + 4 * i, in: &request) }
        let result = request.withUnsafeMutableBytes { ioctl(deviceFD, VFIO.deviceSetIRQs, $0.baseAddress!) }
        guard result == 0 else {
            throw VirtioError(.transportFailure, "\(pciAddress): VFIO_DEVICE_SET_IRQS for \(fds.count) MSI-X vectors failed (errno \(errno))")
        }
    }

    /// Maps `size` bytes at `vaddr` to I/O virtual address `iova` for device reads and writes.
    func mapDMA(vaddr: UnsafeMutableRawPointer, iova: UInt64, size: Int) throws {
        var request = [UInt8](repeating: 0, count: VFIO.dmaMapSize)
        Self.store(UInt32(VFIO.dmaMapSize), at: 0, in: &request)
        Self.store(VFIO.dmaMapFlagRead | VFIO.dmaMapFlagWrite, at: 4, in: &request)
        Self.store(UInt64(UInt(bitPattern: vaddr)), at: 8, in: &request)
        Self.store(iova, at: 16, in: &request)
        Self.store(UInt64(size), at: 24, in: &request)
        let result = request.withUnsafeMutableBytes { ioctl(containerFD, VFIO.iommuMapDMA, $0.baseAddress!) }
        guard result == 0 else {
            throw VirtioError(.transportFailure, "\(pciAddress): VFIO_IOMMU_MAP_DMA of \(size) bytes at IOVA \(iova) failed (errno \(errno))")
        }
    }

    func unmapDMA(iova: UInt64, size: Int) {
        var request = [UInt8](repeating: 0, count: VFIO.dmaUnmapSize)
        Self.store(UInt32(VFIO.dmaUnmapSize), at: 0, in: &request)
        Self.store(iova, at: 8, in: &request)
        Self.store(UInt64(size), at: 16, in: &request)
        _ = request.withUnsafeMutableBytes { ioctl(containerFD, VFIO.iommuUnmapDMA, $0.baseAddress!) }
    }

    static func store<T: FixedWidthInteger>(_ value: T, at offset: Int, in bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self) }
    }

    static func load32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        bytes.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
    }

    static func load64(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
        bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
    }
}
