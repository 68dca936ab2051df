/// A virtio failure: which step failed, on which device, and what to do.
public struct VirtioError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: Sendable, Equatable {
        /// The device does not offer VIRTIO_F_VERSION_1 (virtio 1.2 §6.1), so
        /// it only speaks the legacy interface, which this driver does not implement.
        case legacyDeviceOnly
        /// The device cleared FEATURES_OK after the driver set it (§3.1.1 step 6).
        case featuresNotAccepted
        /// The device set DEVICE_NEEDS_RESET, or a reset did not complete.
        case deviceFailed
        /// A virtqueue the device type requires is missing or too small.
        case queueUnavailable
        /// The driver's configuration does not fit the device or the frame pool.
        case invalidConfiguration
        /// The device wrote a used ring entry that names no buffer in flight,
        /// or a receive buffer with a malformed header (§2.7.8).
        case deviceProtocolViolation
        /// The transport (PCI, VFIO) failed an operation.
        case transportFailure
    }

    public let code: Code
    public let description: String

    public init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }
}
