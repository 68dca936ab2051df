extension VirtioNetDevice {
    /// Opens the virtio-net PCI device at `pciAddress` (such as
    /// `0000:00:03.0`, bound to vfio-pci) and initializes it, taking receive
    /// buffers from `pool`.
    ///
    /// NOTE: the PCI transport runs only in the QEMU guest test; see `VirtioPCITransport`.
    public convenience init(pciAddress: String, pool: FramePool,
                            configuration: Configuration = Configuration()) throws {
        try self.init(transport: VirtioPCITransport(pciAddress: pciAddress), pool: pool, configuration: configuration)
    }
}
