import CapnetBase

extension VirtioNetDevice {
    /// The features this driver can use (virtio 1.2 §5.1.3, §6). It
    /// offers a subset of the device's features and nothing else.
    ///
    /// VIRTIO_NET_F_CSUM is accepted although every transmitted frame
    /// carries a complete checksum: accepting it only permits partial
    /// checksums. VIRTIO_F_ACCESS_PLATFORM is accepted because every address
    /// the driver gives the device comes from its `DMAAllocator`, which is
    /// exactly what the device's IOMMU translates (VFIO I/O virtual addresses).
    public static let supportedFeatures: VirtioFeatures = [
        .version1, .netMAC, .netStatus, .netMergeableReceiveBuffers,
        .netChecksum, .netGuestChecksum, .eventIndex, .accessPlatform,
    ]

    /// Chooses the features to accept from the device's offer, or throws
    /// for a device the driver cannot drive.
    ///
    /// A device without VIRTIO_F_VERSION_1 is legacy-only: its header is 10
    /// bytes, its rings use guest byte order and a legacy register layout
    /// (§2.7.3, §4.1.5.1.1.1). This driver implements none of that, so it
    /// stops here with a message saying how to get a modern device.
    public static func negotiateFeatures(offered: VirtioFeatures, supported: VirtioFeatures,
                                         location: String) throws -> VirtioFeatures {
        guard offered.contains(.version1) else {
            throw VirtioError(.legacyDeviceOnly,
                              "virtio-net at \(location): device does not offer VIRTIO_F_VERSION_1 (offered: \(offered)); "
                              + "legacy virtio devices are not supported, use a virtio 1.x device "
                              + "(QEMU: -device virtio-net-pci,disable-legacy=on)")
        }
        return offered.intersection(supported)
    }

    /// Steps 1 to 6 of device initialization (virtio 1.2 §3.1.1): reset,
    /// ACKNOWLEDGE, DRIVER, feature negotiation, FEATURES_OK and its
    /// re-read. Returns the accepted features with the status written so
    /// far. On failure sets FAILED and throws.
    ///
    /// Step 7 (virtqueues and configuration) and step 8 (DRIVER_OK) follow
    /// in `VirtioNetDevice.init`.
    static func beginInitialization(_ transport: VirtioTransport, supported: VirtioFeatures,
                                    log: Logger) throws -> (VirtioFeatures, VirtioDeviceStatus) {
        // 1. Reset the device.
        try transport.reset()

        // 2. ACKNOWLEDGE: we have noticed the device.
        var status: VirtioDeviceStatus = .acknowledge
        transport.writeStatus(status)

        // 3. DRIVER: we know how to drive it.
        status.insert(.driver)
        transport.writeStatus(status)

        // 4. Read the device's features and write the subset we understand.
        let offered = transport.readDeviceFeatures()
        let accepted: VirtioFeatures
        do {
            accepted = try negotiateFeatures(offered: offered, supported: supported, location: transport.location)
        } catch {
            transport.writeStatus(status.union(.failed))
            throw error
        }
        transport.writeDriverFeatures(accepted)

        // 5. FEATURES_OK: no feature bits change after this.
        status.insert(.featuresOK)
        transport.writeStatus(status)

        // 6. Re-read: a device that cannot work with the subset clears FEATURES_OK.
        let readBack = transport.readStatus()
        guard readBack.contains(.featuresOK) else {
            transport.writeStatus(status.union(.failed))
            throw VirtioError(.featuresNotAccepted,
                              "virtio-net at \(transport.location): device did not accept features \(accepted) "
                              + "(offered \(offered); status read back \(readBack)); the device needs a feature this driver lacks")
        }
        log.debug("virtio-net features negotiated", "device=\(transport.location) offered=\(offered) accepted=\(accepted)")
        return (accepted, status)
    }
}
