extension SplitVirtqueue {
    /// Asks the device for a used buffer notification when it next returns
    /// a buffer (virtio 1.2 §2.7.7), then checks for buffers that arrived
    /// meanwhile. Returns false when used buffers are already waiting: the
    /// caller should take them rather than sleep.
    ///
    /// With VIRTIO_F_EVENT_IDX, `used_event = lastUsedIdx` asks for a
    /// notification once the device writes the entry at that position.
    /// Without it, clearing VIRTQ_AVAIL_F_NO_INTERRUPT asks for every one.
    public func enableUsedNotifications() -> Bool {
        if eventIndex {
            VirtioMemoryOrdering.storeRelaxed(lastUsedIdx, region.base + layout.usedEventOffset)
        } else {
            VirtioMemoryOrdering.storeRelaxed(0, available + SplitVirtqueueLayout.ringFlagsOffset)
        }
        // Point 4 in `VirtioMemoryOrdering`: the store above before the
        // re-read of `used.idx`, or a buffer used in between goes unnoticed
        // by both sides (§2.7.14).
        VirtioMemoryOrdering.fullFence()
        return !hasUsedBuffers
    }

    /// Tells the device that used buffer notifications are not needed while
    /// the driver polls (§2.7.7). Only a hint: the device may still send one.
    ///
    /// With VIRTIO_F_EVENT_IDX the driver must leave `flags` at 0, so it
    /// moves `used_event` to the entry just behind `lastUsedIdx`, the
    /// position the device reaches last (65535 entries ahead).
    public func disableUsedNotifications() {
        if eventIndex {
            VirtioMemoryOrdering.storeRelaxed(lastUsedIdx &- 1, region.base + layout.usedEventOffset)
        } else {
            VirtioMemoryOrdering.storeRelaxed(VirtqAvailFlags.noInterrupt,
                                              available + SplitVirtqueueLayout.ringFlagsOffset)
        }
    }
}
