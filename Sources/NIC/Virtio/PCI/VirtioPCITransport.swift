import CapnetBase
#if canImport(Glibc)
import Glibc
#endif

/// The modern virtio PCI transport (virtio 1.2 §4.1) over VFIO: the common
/// configuration, notification, ISR and device configuration structures
/// in mapped BARs, MSI-X interrupts delivered to eventfds.
///
/// MSI-X vector 0 carries configuration changes and vector 1 the receive
/// queue's used buffer notifications. The transmit queue has no vector
/// (VIRTIO_MSI_NO_VECTOR) because the driver reclaims it by polling.
///
/// NOTE: tested only in the QEMU guest of `image/run-virtio-guest.sh`,
/// because the host tests cannot reach this code. QEMU's user network
/// there offers no checksum offload, so that path runs only in the simulator.
public final class VirtioPCITransport: VirtioTransport {
    public let location: String
    public let dma: DMAAllocator
    let device: VFIODevice
    let common: MMIORegion
    let notifyWindow: MMIORegion
    let notifyOffMultiplier: UInt32
    let deviceConfig: MMIORegion?
    let configEventFD: Int32
    let queueEventFD: Int32
    private var notifyOffsets: [UInt16: Int] = [:]

    // virtio_pci_common_cfg field offsets (§4.1.4.3).
    enum Common {
        static let deviceFeatureSelect = 0
        static let deviceFeature = 4
        static let driverFeatureSelect = 8
        static let driverFeature = 12
        static let configMSIXVector = 16
        static let numQueues = 18
        static let deviceStatus = 20
        static let configGeneration = 21
        static let queueSelect = 22
        static let queueSize = 24
        static let queueMSIXVector = 26
        static let queueEnable = 28
        static let queueNotifyOff = 30
        static let queueDesc = 32
        static let queueDriver = 40
        static let queueDevice = 48
        /// Bytes up to and including `queue_device`, the part this transport uses.
        static let usedLength = 56
    }

    /// VIRTIO_MSI_NO_VECTOR (§4.1.4.3).
    static let noVector: UInt16 = 0xFFFF
    static let configVector: UInt16 = 0
    static let receiveVector: UInt16 = 1
    /// PCI configuration space bytes holding the capability list.
    static let configSpaceLength = 256
    /// PCI command register and its Bus Master Enable bit (PCI Local Bus 3.0).
    static let pciCommandOffset = 0x04
    static let pciCommandBusMaster: UInt16 = 0x04
    /// Bytes a notification write carries: the queue index (§4.1.5.2, no NOTIFICATION_DATA).
    static let notifyWriteLength = 2
    static let eventCounterLength = 8

    /// Opens the virtio PCI device at `pciAddress` (such as `0000:00:03.0`),
    /// which must be bound to vfio-pci.
    public init(pciAddress: String) throws {
        let device = try VFIODevice(pciAddress: pciAddress)
        let configSpace = try device.readConfigSpace(count: Self.configSpaceLength)
        let capabilities = try VirtioPCICapabilities.parse(configSpace: configSpace)

        var bars: [Int: MMIORegion] = [:]
        func window(_ location: VirtioPCICapabilities.Location, minimum: Int) throws -> MMIORegion {
            if bars[location.bar] == nil { bars[location.bar] = try device.mapBAR(location.bar) }
            guard location.length >= minimum,
                  let region = bars[location.bar]!.slice(offset: location.offset, count: location.length) else {
                throw VirtioError(.transportFailure,
                                  "\(pciAddress): virtio structure at BAR \(location.bar) offset \(location.offset) length \(location.length) does not fit the BAR")
            }
            return region
        }
        common = try window(capabilities.common, minimum: Common.usedLength)
        notifyWindow = try window(capabilities.notify, minimum: Self.notifyWriteLength)
        deviceConfig = try capabilities.device.map { try window($0, minimum: 0) }
        notifyOffMultiplier = capabilities.notifyOffMultiplier

        // DMA needs Bus Master Enable, which VFIO leaves to the user.
        let command = UInt16(configSpace[Self.pciCommandOffset]) | UInt16(configSpace[Self.pciCommandOffset + 1]) << 8
        try device.writeConfig16(offset: Self.pciCommandOffset, command | Self.pciCommandBusMaster)

        configEventFD = try Self.makeEventFD(pciAddress)
        queueEventFD = try Self.makeEventFD(pciAddress)
        try device.setMSIXEventfds([configEventFD, queueEventFD])

        self.device = device
        location = pciAddress
        dma = VFIODMAAllocator(device: device)
    }

    deinit {
        try? device.setMSIXEventfds([])
        Glibc.close(configEventFD)
        Glibc.close(queueEventFD)
    }

    public func readStatus() -> VirtioDeviceStatus {
        VirtioDeviceStatus(rawValue: common.read8(Common.deviceStatus))
    }

    public func writeStatus(_ status: VirtioDeviceStatus) {
        common.write8(Common.deviceStatus, status.rawValue)
        // Vectors reset with the device (§4.1.4.3), so set the configuration
        // vector again once the driver starts over.
        if status == .acknowledge { common.write16(Common.configMSIXVector, Self.configVector) }
    }

    public func readDeviceFeatures() -> VirtioFeatures {
        common.write32(Common.deviceFeatureSelect, 0)
        let low = UInt64(common.read32(Common.deviceFeature))
        common.write32(Common.deviceFeatureSelect, 1)
        let high = UInt64(common.read32(Common.deviceFeature))
        return VirtioFeatures(rawValue: high << 32 | low)
    }

    public func writeDriverFeatures(_ features: VirtioFeatures) {
        common.write32(Common.driverFeatureSelect, 0)
        common.write32(Common.driverFeature, UInt32(truncatingIfNeeded: features.rawValue))
        common.write32(Common.driverFeatureSelect, 1)
        common.write32(Common.driverFeature, UInt32(truncatingIfNeeded: features.rawValue >> 32))
    }

    public func maxQueueSize(_ index: UInt16) -> Int {
        guard index < common.read16(Common.numQueues) else { return 0 }
        common.write16(Common.queueSelect, index)
        return Int(common.read16(Common.queueSize))
    }

    public func activateQueue(_ index: UInt16, size: Int, descriptorArea: UInt64,
                              driverArea: UInt64, deviceArea: UInt64) throws {
        common.write16(Common.queueSelect, index)
        common.write16(Common.queueSize, UInt16(truncatingIfNeeded: size))
        common.write64(Common.queueDesc, descriptorArea)
        common.write64(Common.queueDriver, driverArea)
        common.write64(Common.queueDevice, deviceArea)

        let vector = index == VirtioNetConfig.receiveQueue1 ? Self.receiveVector : Self.noVector
        common.write16(Common.queueMSIXVector, vector)
        // The device reads back VIRTIO_MSI_NO_VECTOR when it could not
        // assign the vector (§4.1.5.1.2).
        guard common.read16(Common.queueMSIXVector) == vector else {
            throw VirtioError(.transportFailure, "\(location): device did not accept MSI-X vector \(vector) for queue \(index)")
        }

        // §4.1.4.4: cap.offset + queue_notify_off * notify_off_multiplier.
        let offset = Int(common.read16(Common.queueNotifyOff)) * Int(notifyOffMultiplier)
        guard offset <= notifyWindow.byteCount - Self.notifyWriteLength else {
            throw VirtioError(.transportFailure, "\(location): notification address of queue \(index) lies outside the notify structure")
        }
        notifyOffsets[index] = offset
        common.write16(Common.queueEnable, 1)
    }

    public func notify(queue index: UInt16) {
        guard let offset = notifyOffsets[index] else { return }
        notifyWindow.write16(offset, index)
    }

    public func configGeneration() -> UInt8 { common.read8(Common.configGeneration) }

    public func readConfig8(offset: Int) -> UInt8 {
        guard let deviceConfig, offset < deviceConfig.byteCount else { return 0 }
        return deviceConfig.read8(offset)
    }

    public func readConfig16(offset: Int) -> UInt16 {
        guard let deviceConfig, offset + 2 <= deviceConfig.byteCount else { return 0 }
        return deviceConfig.read16(offset)
    }

    public func takeConfigurationChange() -> Bool {
        var counter: UInt64 = 0
        return read(configEventFD, &counter, Self.eventCounterLength) == Self.eventCounterLength && counter > 0
    }

    public func waitForNotification(timeout: Nanoseconds) throws {
        var fds = [pollfd(fd: queueEventFD, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: configEventFD, events: Int16(POLLIN), revents: 0)]
        let milliseconds = Int32(clamping: (timeout.value + 999_999) / 1_000_000)
        let ready = poll(&fds, nfds_t(fds.count), milliseconds)
        guard ready >= 0 || errno == EINTR else {
            throw VirtioError(.transportFailure, "\(location): poll on interrupt eventfds failed (errno \(errno))")
        }
        // Consume the queue interrupt; the configuration one is left for
        // `takeConfigurationChange`.
        var counter: UInt64 = 0
        _ = read(queueEventFD, &counter, Self.eventCounterLength)
    }

    public func close() {
        try? device.setMSIXEventfds([])
    }

    /// Creates a non-blocking eventfd. Glibc's `eventfd` is not in Swift's
    /// Glibc module, so it is looked up by name in the C library.
    static func makeEventFD(_ pciAddress: String) throws -> Int32 {
        typealias EventFD = @convention(c) (UInt32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "eventfd") else {
            throw VirtioError(.transportFailure, "\(pciAddress): eventfd not found in the C library")
        }
        let eventfd = unsafeBitCast(symbol, to: EventFD.self)
        // EFD_NONBLOCK and EFD_CLOEXEC equal O_NONBLOCK and O_CLOEXEC (<sys/eventfd.h>).
        let fd = eventfd(0, O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            throw VirtioError(.transportFailure, "\(pciAddress): creating an eventfd failed (errno \(errno))")
        }
        return fd
    }
}
