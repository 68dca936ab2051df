import CapnetBase

/// The driver's access to a virtio device: the operations of the common
/// configuration structure, notifications and the device configuration
/// space, independent of the bus (virtio 1.2 §4).
///
/// The modern PCI transport over VFIO (§4.1) implements it with BAR
/// accesses and eventfds; the host simulator implements it in memory.
/// Used from the stack's run loop thread only.
public protocol VirtioTransport: AnyObject {
    /// Device location for messages, such as the PCI address `0000:00:03.0`.
    var location: String { get }

    /// The device-visible memory for rings, headers and the frame pool.
    var dma: DMAAllocator { get }

    /// Reads `device_status` (§2.1).
    func readStatus() -> VirtioDeviceStatus

    /// Writes `device_status`. Writing an empty set starts a reset (§2.4).
    func writeStatus(_ status: VirtioDeviceStatus)

    /// Reads all 64 bits of `device_feature` (§2.2, §4.1.4.3).
    func readDeviceFeatures() -> VirtioFeatures

    /// Writes all 64 bits of `driver_feature`.
    func writeDriverFeatures(_ features: VirtioFeatures)

    /// Returns the maximum size of queue `index` (`queue_size` after
    /// selecting it), or 0 when the queue does not exist.
    func maxQueueSize(_ index: UInt16) -> Int

    /// Sets a queue's size and the device addresses of its descriptor,
    /// driver and device areas, then enables it (`queue_enable = 1`).
    func activateQueue(_ index: UInt16, size: Int, descriptorArea: UInt64,
                       driverArea: UInt64, deviceArea: UInt64) throws

    /// Sends an available buffer notification for queue `index` (§2.3).
    func notify(queue index: UInt16)

    /// `config_generation`, which changes whenever the device changes its
    /// configuration space (§2.5.1).
    func configGeneration() -> UInt8

    /// Reads device configuration fields with the access width §4.1.3.1
    /// requires for each field size.
    func readConfig8(offset: Int) -> UInt8
    func readConfig16(offset: Int) -> UInt16

    /// Returns whether a configuration change notification arrived since
    /// the last call, and clears it (§2.3; the ISR bit 1 on PCI, §4.1.4.5).
    func takeConfigurationChange() -> Bool

    /// Blocks until the device sends a used buffer or configuration change
    /// notification, or until `timeout` passes. Returns at once if one is
    /// already pending.
    func waitForNotification(timeout: Nanoseconds) throws

    /// Releases OS resources (file descriptors, mappings). The device
    /// must already be reset.
    func close()
}

extension VirtioTransport {
    /// Resets the device (§2.4): write 0 to `device_status`, then wait for
    /// the device to read back 0. Throws when it does not within
    /// `maxResetPolls` reads.
    public func reset() throws {
        writeStatus([])
        for _ in 0..<virtioMaxResetPolls where readStatus().isEmpty { return }
        throw VirtioError(.deviceFailed,
                          "virtio device at \(location): device_status still \(readStatus()) after reset; the device is not responding")
    }

    /// Reads a configuration value consistently: repeats `read` until
    /// `config_generation` is the same before and after (§2.5.1).
    public func readConfigConsistently<T>(_ read: () -> T) throws -> T {
        for _ in 0..<virtioMaxConfigReadAttempts {
            let before = configGeneration()
            let value = read()
            if configGeneration() == before { return value }
        }
        throw VirtioError(.deviceFailed,
                          "virtio device at \(location): configuration kept changing over \(virtioMaxConfigReadAttempts) reads")
    }
}

/// Reads of `device_status` allowed for a reset to complete. A software
/// device completes it on the first read; the bound stops a dead device
/// from hanging start-up.
public let virtioMaxResetPolls = 100_000

/// Attempts to read the configuration without a concurrent change before
/// giving up. §2.5.1 requires drivers to retry, and the bound is ours.
public let virtioMaxConfigReadAttempts = 16
