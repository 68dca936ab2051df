/// A set of virtio feature bits (virtio 1.2 §2.2), 64 bits wide as the
/// modern transports carry them.
///
/// Bits 0 to 23 belong to the device type (§5.1.3 for virtio-net), bits 24
/// to 40 are reserved for the queue and feature negotiation mechanisms
/// (§6). Unknown bits are kept, so a device's offer prints in full.
public struct VirtioFeatures: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64

    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }

    @inlinable public init(bit: Int) { self.init(rawValue: 1 << UInt64(bit)) }

    // virtio-net feature bits (virtio 1.2 §5.1.3).

    /// VIRTIO_NET_F_CSUM (0): the device handles packets with partial checksum on transmit.
    public static let netChecksum = VirtioFeatures(bit: 0)
    /// VIRTIO_NET_F_GUEST_CSUM (1): the driver handles packets with partial checksum on receive.
    public static let netGuestChecksum = VirtioFeatures(bit: 1)
    /// VIRTIO_NET_F_MTU (3): the device reports its maximum MTU in `mtu`.
    public static let netMTU = VirtioFeatures(bit: 3)
    /// VIRTIO_NET_F_MAC (5): the device has a MAC address in `mac`.
    public static let netMAC = VirtioFeatures(bit: 5)
    /// VIRTIO_NET_F_MRG_RXBUF (15): the driver can merge receive buffers.
    public static let netMergeableReceiveBuffers = VirtioFeatures(bit: 15)
    /// VIRTIO_NET_F_STATUS (16): the configuration `status` field is available.
    public static let netStatus = VirtioFeatures(bit: 16)
    /// VIRTIO_NET_F_CTRL_VQ (17): a control virtqueue is available.
    public static let netControlQueue = VirtioFeatures(bit: 17)

    // Reserved feature bits (virtio 1.2 §6).

    /// VIRTIO_F_INDIRECT_DESC (28): indirect descriptor tables (§2.7.5.3).
    public static let indirectDescriptors = VirtioFeatures(bit: 28)
    /// VIRTIO_F_EVENT_IDX (29): the `used_event` and `avail_event` fields (§2.7.7, §2.7.10).
    public static let eventIndex = VirtioFeatures(bit: 29)
    /// VIRTIO_F_VERSION_1 (32): the device follows virtio 1.x, not the legacy interface.
    public static let version1 = VirtioFeatures(bit: 32)
    /// VIRTIO_F_ACCESS_PLATFORM (33): the device reaches memory through the
    /// platform's IOMMU, so descriptors carry I/O virtual addresses.
    public static let accessPlatform = VirtioFeatures(bit: 33)
    /// VIRTIO_F_RING_PACKED (34): the packed virtqueue layout (§2.8).
    public static let ringPacked = VirtioFeatures(bit: 34)
    /// VIRTIO_F_IN_ORDER (35): the device uses buffers in the order offered.
    public static let inOrder = VirtioFeatures(bit: 35)
    /// VIRTIO_F_ORDER_PLATFORM (36): the device needs hardware-level memory barriers.
    public static let orderPlatform = VirtioFeatures(bit: 36)

    private static let names: [(VirtioFeatures, String)] = [
        (.netChecksum, "CSUM"), (.netGuestChecksum, "GUEST_CSUM"), (.netMTU, "MTU"),
        (.netMAC, "MAC"), (.netMergeableReceiveBuffers, "MRG_RXBUF"), (.netStatus, "STATUS"),
        (.netControlQueue, "CTRL_VQ"), (.indirectDescriptors, "INDIRECT_DESC"),
        (.eventIndex, "EVENT_IDX"), (.version1, "VERSION_1"), (.accessPlatform, "ACCESS_PLATFORM"),
        (.ringPacked, "RING_PACKED"), (.inOrder, "IN_ORDER"), (.orderPlatform, "ORDER_PLATFORM"),
    ]

    /// Spec names of the known bits, then `bit N` for the others.
    public var description: String {
        var parts: [String] = []
        var rest = rawValue
        for (feature, name) in Self.names where contains(feature) {
            parts.append(name)
            rest &= ~feature.rawValue
        }
        for bit in 0..<64 where rest & (1 << UInt64(bit)) != 0 { parts.append("bit \(bit)") }
        return parts.isEmpty ? "none" : parts.joined(separator: ",")
    }
}

/// The device status field (virtio 1.2 §2.1): bits the driver sets as it
/// moves through initialization (§3.1.1), plus the device's error bits.
public struct VirtioDeviceStatus: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8

    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// ACKNOWLEDGE (1): the guest OS has found the device.
    public static let acknowledge = VirtioDeviceStatus(rawValue: 1)
    /// DRIVER (2): the guest OS knows how to drive the device.
    public static let driver = VirtioDeviceStatus(rawValue: 2)
    /// DRIVER_OK (4): the driver is set up and ready to drive the device.
    public static let driverOK = VirtioDeviceStatus(rawValue: 4)
    /// FEATURES_OK (8): the driver has acknowledged the features it understands.
    public static let featuresOK = VirtioDeviceStatus(rawValue: 8)
    /// DEVICE_NEEDS_RESET (64): the device hit an error it cannot recover from.
    public static let deviceNeedsReset = VirtioDeviceStatus(rawValue: 64)
    /// FAILED (128): the driver gave up on the device.
    public static let failed = VirtioDeviceStatus(rawValue: 128)

    public var description: String {
        let names: [(VirtioDeviceStatus, String)] = [
            (.acknowledge, "ACKNOWLEDGE"), (.driver, "DRIVER"), (.driverOK, "DRIVER_OK"),
            (.featuresOK, "FEATURES_OK"), (.deviceNeedsReset, "DEVICE_NEEDS_RESET"), (.failed, "FAILED"),
        ]
        let parts = names.filter { contains($0.0) }.map(\.1)
        return parts.isEmpty ? "0" : parts.joined(separator: "|")
    }
}
