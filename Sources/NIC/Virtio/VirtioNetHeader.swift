/// The header in front of every packet on a virtio-net queue (virtio 1.2
/// §5.1.6), 12 bytes when VIRTIO_F_VERSION_1 is negotiated:
///
/// ```
/// struct virtio_net_hdr {
///     u8   flags;        // VIRTIO_NET_HDR_F_*
///     u8   gso_type;     // VIRTIO_NET_HDR_GSO_*
///     le16 hdr_len;
///     le16 gso_size;
///     le16 csum_start;
///     le16 csum_offset;
///     le16 num_buffers;  // receive buffers used for this packet (MRG_RXBUF)
/// };
/// ```
///
/// The hash report fields that follow with VIRTIO_NET_F_HASH_REPORT are
/// never present, because this driver does not negotiate that feature.
public struct VirtioNetHeader: Equatable, Sendable {
    public var flags: Flags
    public var gsoType: UInt8
    public var headerLength: UInt16
    public var gsoSize: UInt16
    public var checksumStart: UInt16
    public var checksumOffset: UInt16
    public var numBuffers: UInt16

    /// Bytes of the header with VIRTIO_F_VERSION_1 (§5.1.6).
    public static let byteCount = 12

    static let flagsOffset = 0
    static let gsoTypeOffset = 1
    static let headerLengthOffset = 2
    static let gsoSizeOffset = 4
    static let checksumStartOffset = 6
    static let checksumOffsetOffset = 8
    static let numBuffersOffset = 10

    /// VIRTIO_NET_HDR_GSO_NONE: not a segmentation offload packet.
    public static let gsoNone: UInt8 = 0

    /// `flags` bits (§5.1.6).
    public struct Flags: OptionSet, Hashable, Sendable {
        public let rawValue: UInt8
        @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }

        /// VIRTIO_NET_HDR_F_NEEDS_CSUM: the checksum at `csum_start +
        /// csum_offset` holds only the pseudo-header sum; the rest of the
        /// sum from `csum_start` to the end is still to be added.
        public static let needsChecksum = Flags(rawValue: 1)
        /// VIRTIO_NET_HDR_F_DATA_VALID: the device validated the checksum.
        public static let dataValid = Flags(rawValue: 2)
        /// VIRTIO_NET_HDR_F_RSC_INFO: coalescing info in `csum_start` and `csum_offset`.
        public static let rscInfo = Flags(rawValue: 4)
    }

    /// A transmit header for a frame with a complete checksum and no
    /// segmentation offload (§5.1.6.2).
    public static let plain = VirtioNetHeader(flags: [], gsoType: gsoNone, headerLength: 0, gsoSize: 0,
                                              checksumStart: 0, checksumOffset: 0, numBuffers: 0)

    public init(flags: Flags, gsoType: UInt8, headerLength: UInt16, gsoSize: UInt16,
                checksumStart: UInt16, checksumOffset: UInt16, numBuffers: UInt16) {
        self.flags = flags
        self.gsoType = gsoType
        self.headerLength = headerLength
        self.gsoSize = gsoSize
        self.checksumStart = checksumStart
        self.checksumOffset = checksumOffset
        self.numBuffers = numBuffers
    }

    /// Reads a header from 12 bytes at `pointer`. The caller owns the memory.
    public init(reading pointer: UnsafeRawPointer) {
        flags = Flags(rawValue: pointer.load(fromByteOffset: Self.flagsOffset, as: UInt8.self))
        gsoType = pointer.load(fromByteOffset: Self.gsoTypeOffset, as: UInt8.self)
        headerLength = Self.loadLE16(pointer, Self.headerLengthOffset)
        gsoSize = Self.loadLE16(pointer, Self.gsoSizeOffset)
        checksumStart = Self.loadLE16(pointer, Self.checksumStartOffset)
        checksumOffset = Self.loadLE16(pointer, Self.checksumOffsetOffset)
        numBuffers = Self.loadLE16(pointer, Self.numBuffersOffset)
    }

    /// Writes the 12 bytes at `pointer`.
    public func write(to pointer: UnsafeMutableRawPointer) {
        pointer.storeBytes(of: flags.rawValue, toByteOffset: Self.flagsOffset, as: UInt8.self)
        pointer.storeBytes(of: gsoType, toByteOffset: Self.gsoTypeOffset, as: UInt8.self)
        pointer.storeBytes(of: headerLength.littleEndian, toByteOffset: Self.headerLengthOffset, as: UInt16.self)
        pointer.storeBytes(of: gsoSize.littleEndian, toByteOffset: Self.gsoSizeOffset, as: UInt16.self)
        pointer.storeBytes(of: checksumStart.littleEndian, toByteOffset: Self.checksumStartOffset, as: UInt16.self)
        pointer.storeBytes(of: checksumOffset.littleEndian, toByteOffset: Self.checksumOffsetOffset, as: UInt16.self)
        pointer.storeBytes(of: numBuffers.littleEndian, toByteOffset: Self.numBuffersOffset, as: UInt16.self)
    }

    private static func loadLE16(_ pointer: UnsafeRawPointer, _ offset: Int) -> UInt16 {
        UInt16(littleEndian: pointer.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }
}

/// The virtio-net device configuration layout (virtio 1.2 §5.1.4), up to
/// the fields this driver reads.
///
/// ```
/// struct virtio_net_config {
///     u8   mac[6];                // valid with VIRTIO_NET_F_MAC
///     le16 status;                // valid with VIRTIO_NET_F_STATUS
///     le16 max_virtqueue_pairs;   // valid with VIRTIO_NET_F_MQ
///     le16 mtu;                   // valid with VIRTIO_NET_F_MTU
///     ...
/// };
/// ```
public enum VirtioNetConfig {
    public static let macOffset = 0
    public static let macLength = 6
    public static let statusOffset = 6
    public static let maxVirtqueuePairsOffset = 8
    public static let mtuOffset = 10

    /// VIRTIO_NET_S_LINK_UP in `status`.
    public static let statusLinkUp: UInt16 = 1
    /// VIRTIO_NET_S_ANNOUNCE in `status`: the driver should announce its address.
    public static let statusAnnounce: UInt16 = 2

    /// Virtqueue indices of the first queue pair (§5.1.2).
    public static let receiveQueue1: UInt16 = 0
    public static let transmitQueue1: UInt16 = 1
}
