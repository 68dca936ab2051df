/// Where the three parts of a split virtqueue lie in one DMA region, and the
/// byte offsets of their fields (virtio 1.2 §2.7, "Virtqueue Part Alignment
/// and Size" table, §2.7.5, §2.7.6, §2.7.8).
///
/// ```
/// struct virtq_desc  { le64 addr; le32 len; le16 flags; le16 next; };       // 16 bytes
/// struct virtq_avail { le16 flags; le16 idx; le16 ring[Q]; le16 used_event; };
/// struct virtq_used  { le16 flags; le16 idx; struct { le32 id; le32 len; } ring[Q];
///                      le16 avail_event; };
/// ```
public struct SplitVirtqueueLayout: Equatable, Sendable {
    /// The number of descriptors and ring entries (Q in the spec).
    public let queueSize: Int
    /// Offset of the descriptor table ("Descriptor Area"), always 0.
    public let descriptorTableOffset: Int
    /// Offset of the available ring ("Driver Area").
    public let availableRingOffset: Int
    /// Offset of the used ring ("Device Area").
    public let usedRingOffset: Int
    /// Bytes the whole queue occupies.
    public let byteCount: Int

    /// The largest queue size: the highest power of two that fits in 16 bits (§2.7.13).
    public static let maxQueueSize = 32768
    public static let descriptorSize = 16
    /// Alignments required by the §2.7 table.
    public static let descriptorTableAlignment = 16
    public static let availableRingAlignment = 2
    public static let usedRingMinimumAlignment = 4
    /// The used ring starts on its own cache line so the device's writes to
    /// it do not contend with the driver's writes to the available ring.
    /// Any multiple of `usedRingMinimumAlignment` is valid.
    public static let usedRingAlignment = 64

    // Field offsets inside a descriptor (§2.7.5).
    public static let descriptorAddrOffset = 0
    public static let descriptorLenOffset = 8
    public static let descriptorFlagsOffset = 12
    public static let descriptorNextOffset = 14

    // Field offsets inside both rings (§2.7.6, §2.7.8).
    public static let ringFlagsOffset = 0
    public static let ringIdxOffset = 2
    public static let ringEntriesOffset = 4
    public static let availableEntrySize = 2
    public static let usedElementSize = 8
    public static let usedElementIdOffset = 0
    public static let usedElementLenOffset = 4

    /// Builds the layout for `queueSize` entries, or returns nil unless the
    /// size is a power of two in 1...32768 (the driver masks ring positions).
    public init?(queueSize: Int) {
        guard queueSize > 0, queueSize <= Self.maxQueueSize, queueSize & (queueSize - 1) == 0 else {
            return nil
        }
        self.queueSize = queueSize
        descriptorTableOffset = 0
        availableRingOffset = queueSize * Self.descriptorSize
        let availableEnd = availableRingOffset + Self.availableRingByteCount(queueSize: queueSize)
        usedRingOffset = Self.roundUp(availableEnd, to: Self.usedRingAlignment)
        byteCount = usedRingOffset + Self.usedRingByteCount(queueSize: queueSize)
    }

    /// `6 + 2 * Q`: flags, idx, ring and used_event (§2.7 table).
    public static func availableRingByteCount(queueSize: Int) -> Int { 6 + availableEntrySize * queueSize }

    /// `6 + 8 * Q`: flags, idx, ring and avail_event (§2.7 table).
    public static func usedRingByteCount(queueSize: Int) -> Int { 6 + usedElementSize * queueSize }

    /// Offset of `used_event`, right after the available ring's entries.
    public var usedEventOffset: Int {
        availableRingOffset + Self.ringEntriesOffset + Self.availableEntrySize * queueSize
    }

    /// Offset of `avail_event`, right after the used ring's elements.
    public var availEventOffset: Int {
        usedRingOffset + Self.ringEntriesOffset + Self.usedElementSize * queueSize
    }

    static func roundUp(_ value: Int, to alignment: Int) -> Int {
        (value + alignment - 1) / alignment * alignment
    }
}

/// Descriptor flags (virtio 1.2 §2.7.5).
public struct VirtqDescriptorFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// VIRTQ_DESC_F_NEXT: the buffer continues in the descriptor named by `next`.
    public static let next = VirtqDescriptorFlags(rawValue: 1)
    /// VIRTQ_DESC_F_WRITE: the buffer is device-writable (otherwise device-readable).
    public static let write = VirtqDescriptorFlags(rawValue: 2)
    /// VIRTQ_DESC_F_INDIRECT: the buffer holds a table of descriptors (§2.7.5.3).
    public static let indirect = VirtqDescriptorFlags(rawValue: 4)
}

/// `flags` of the available ring (§2.7.6): VIRTQ_AVAIL_F_NO_INTERRUPT.
public enum VirtqAvailFlags {
    /// The driver does not need used buffer notifications (ignored with EVENT_IDX, §2.7.7).
    public static let noInterrupt: UInt16 = 1
}

/// `flags` of the used ring (§2.7.8): VIRTQ_USED_F_NO_NOTIFY.
public enum VirtqUsedFlags {
    /// The device does not need available buffer notifications (ignored with EVENT_IDX, §2.7.10).
    public static let noNotify: UInt16 = 1
}
