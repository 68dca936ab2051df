/// One element of a buffer handed to the device: a device address, a length,
/// and whether the device writes it (virtio 1.2 §2.7.13.1).
public struct VirtqBufferElement: Sendable, Equatable {
    public var address: UInt64
    public var length: UInt32
    public var deviceWritable: Bool

    @inlinable public init(address: UInt64, length: UInt32, deviceWritable: Bool) {
        self.address = address
        self.length = length
        self.deviceWritable = deviceWritable
    }
}

/// A buffer the device has finished with: the head of its descriptor chain,
/// the bytes the device wrote into it (`len`, §2.7.8), and the token the
/// driver attached when it added the buffer.
public struct VirtqUsedBuffer: Sendable, Equatable {
    public var head: UInt16
    public var length: UInt32
    public var token: Int32
}

/// The driver side of one split virtqueue (virtio 1.2 §2.7).
///
/// The descriptor table, available ring and used ring live in one DMA region
/// laid out by `SplitVirtqueueLayout`. Invariant: we write the descriptors
/// and the available ring, the device writes the used ring; `availIdx` runs
/// ahead of `lastUsedIdx` by the number of chains in flight, at most
/// `queueSize`, so the 16-bit indices never become ambiguous (§2.7.13).
///
/// Free descriptors form a list linked through their `next` fields, as the
/// spec suggests in §2.7.13.1. Owned by one thread; not thread-safe.
public final class SplitVirtqueue {
    /// The queue's index on the device (0 is receiveq1 for virtio-net, §5.1.2).
    public let index: UInt16
    public let layout: SplitVirtqueueLayout
    public let region: DMARegion
    /// Whether VIRTIO_F_EVENT_IDX was negotiated, choosing `used_event` and
    /// `avail_event` over the flags for notification suppression.
    public let eventIndex: Bool

    @usableFromInline let queueSize: UInt16
    @usableFromInline let mask: UInt16
    @usableFromInline let descriptors: UnsafeMutableRawPointer
    @usableFromInline let available: UnsafeMutableRawPointer
    @usableFromInline let used: UnsafeMutableRawPointer

    /// The first free descriptor, valid when `freeCount > 0`.
    private var freeHead: UInt16 = 0
    public private(set) var freeCount: Int
    /// Our copy of `avail.idx`, including chains added but not yet published.
    public private(set) var availIdx: UInt16 = 0
    /// `avail.idx` when we last decided whether to notify ("old" in vring_need_event).
    private var notifiedAvailIdx: UInt16 = 0
    /// The next used ring entry we will read.
    public private(set) var lastUsedIdx: UInt16 = 0
    /// Per chain head: number of descriptors in the chain, 0 when not in flight.
    private let chainLengths: UnsafeMutablePointer<UInt16>
    /// Per chain head: the driver's token (a frame pool slot for virtio-net).
    private let tokens: UnsafeMutablePointer<Int32>

    /// Sets up the queue in `region`, which must be zeroed and at least
    /// `layout.byteCount` bytes, aligned to 64 bytes.
    public init(index: UInt16, layout: SplitVirtqueueLayout, region: DMARegion, eventIndex: Bool) throws {
        guard region.byteCount >= layout.byteCount else {
            throw VirtioError(.invalidConfiguration,
                              "virtqueue \(index): region of \(region.byteCount) bytes is smaller than the \(layout.byteCount) the layout needs")
        }
        self.index = index
        self.layout = layout
        self.region = region
        self.eventIndex = eventIndex
        queueSize = UInt16(truncatingIfNeeded: layout.queueSize)
        mask = UInt16(truncatingIfNeeded: layout.queueSize - 1)
        descriptors = region.base + layout.descriptorTableOffset
        available = region.base + layout.availableRingOffset
        used = region.base + layout.usedRingOffset
        freeCount = layout.queueSize
        chainLengths = .allocate(capacity: layout.queueSize)
        chainLengths.initialize(repeating: 0, count: layout.queueSize)
        tokens = .allocate(capacity: layout.queueSize)
        tokens.initialize(repeating: -1, count: layout.queueSize)

        // Link every descriptor into the free list: i -> i + 1.
        for i in 0..<layout.queueSize {
            let next = UInt16(truncatingIfNeeded: (i + 1) & (layout.queueSize - 1))
            descriptorPointer(UInt16(truncatingIfNeeded: i)).storeBytes(
                of: next.littleEndian, toByteOffset: SplitVirtqueueLayout.descriptorNextOffset, as: UInt16.self)
        }
        // The driver initializes both rings' flags and indices to 0
        // (§2.7.10 requires it of used.flags; the region arrives zeroed,
        // but a reused region might not be).
        VirtioMemoryOrdering.storeRelaxed(0, available + SplitVirtqueueLayout.ringFlagsOffset)
        VirtioMemoryOrdering.storeRelaxed(0, available + SplitVirtqueueLayout.ringIdxOffset)
        VirtioMemoryOrdering.storeRelaxed(0, used + SplitVirtqueueLayout.ringFlagsOffset)
        VirtioMemoryOrdering.storeRelaxed(0, used + SplitVirtqueueLayout.ringIdxOffset)
    }

    deinit {
        chainLengths.deallocate()
        tokens.deallocate()
    }

    public var queueSizeValue: Int { layout.queueSize }

    /// Device addresses of the three parts, for the transport's queue registers
    /// (`queue_desc`, `queue_driver`, `queue_device`, §4.1.4.3).
    public var descriptorAreaAddress: UInt64 { region.deviceAddress(atOffset: layout.descriptorTableOffset) }
    public var driverAreaAddress: UInt64 { region.deviceAddress(atOffset: layout.availableRingOffset) }
    public var deviceAreaAddress: UInt64 { region.deviceAddress(atOffset: layout.usedRingOffset) }

    /// The head the next `addChain` will use, so a caller can place
    /// per-chain data (a virtio-net header) before adding; nil when full.
    public var nextHead: UInt16? { freeCount > 0 ? freeHead : nil }

    /// Chains added but not yet seen as used.
    public var inFlightCount: Int { layout.queueSize - freeCount }

    // MARK: - Supplying buffers (§2.7.13)

    /// Places a buffer of `elementCount` elements into free descriptors and
    /// its head into the next available ring entry (§2.7.13.1, §2.7.13.2).
    /// The device sees it only after `publish()`. Returns the head, or nil
    /// (adding nothing) when fewer than `elementCount` descriptors are free.
    ///
    /// Device-readable elements must come before device-writable ones (§2.7.4).
    @discardableResult
    public func addChain(elementCount: Int, token: Int32,
                         element: (Int) -> VirtqBufferElement) -> UInt16? {
        guard elementCount > 0, elementCount <= freeCount else { return nil }
        let head = freeHead
        var current = head
        for i in 0..<elementCount {
            let item = element(i)
            let descriptor = descriptorPointer(current)
            let nextFree = descriptor.load(fromByteOffset: SplitVirtqueueLayout.descriptorNextOffset, as: UInt16.self)
            var flags: VirtqDescriptorFlags = item.deviceWritable ? .write : []
            if i + 1 < elementCount { flags.insert(.next) }
            descriptor.storeBytes(of: item.address.littleEndian,
                                  toByteOffset: SplitVirtqueueLayout.descriptorAddrOffset, as: UInt64.self)
            descriptor.storeBytes(of: item.length.littleEndian,
                                  toByteOffset: SplitVirtqueueLayout.descriptorLenOffset, as: UInt32.self)
            descriptor.storeBytes(of: flags.rawValue.littleEndian,
                                  toByteOffset: SplitVirtqueueLayout.descriptorFlagsOffset, as: UInt16.self)
            // A chained descriptor's `next` already names the following free
            // descriptor, which is the one we fill next; the last one's
            // `next` is ignored by the device (no NEXT flag).
            current = UInt16(littleEndian: nextFree)
        }
        freeHead = current
        freeCount -= elementCount
        chainLengths[Int(head)] = UInt16(truncatingIfNeeded: elementCount)
        tokens[Int(head)] = token

        let slot = Int(availIdx & mask)
        (available + SplitVirtqueueLayout.ringEntriesOffset + slot * SplitVirtqueueLayout.availableEntrySize)
            .storeBytes(of: head.littleEndian, as: UInt16.self)
        availIdx &+= 1
        return head
    }

    /// Makes every added chain visible to the device by storing `avail.idx`
    /// (§2.7.13.3), with release ordering (point 1 in `VirtioMemoryOrdering`).
    public func publish() {
        VirtioMemoryOrdering.storeRelease(availIdx, available + SplitVirtqueueLayout.ringIdxOffset)
    }

    /// Decides whether the device needs an available buffer notification for
    /// the chains published since the last decision (§2.7.13.4, §2.7.10).
    /// Call after `publish()`; the caller sends the notification when true.
    public func needsNotification() -> Bool {
        // Point 2 in `VirtioMemoryOrdering`: `avail.idx` before the reads below.
        VirtioMemoryOrdering.fullFence()
        let old = notifiedAvailIdx
        let new = availIdx
        notifiedAvailIdx = new
        guard old != new else { return false }
        if eventIndex {
            let availEvent = VirtioMemoryOrdering.loadRelaxed(region.base + layout.availEventOffset)
            return Self.needsEvent(eventIdx: availEvent, newIdx: new, oldIdx: old)
        }
        let flags = VirtioMemoryOrdering.loadRelaxed(used + SplitVirtqueueLayout.ringFlagsOffset)
        return flags & VirtqUsedFlags.noNotify == 0
    }

    /// vring_need_event (virtio 1.2 §2.7.10, and the helper in §2.7.11):
    /// whether moving an index from `oldIdx` to `newIdx` passed `eventIdx`,
    /// meaning the entry at position `eventIdx` was among those written.
    /// All arithmetic is modulo 2^16, so it holds across wrap-around.
    @inlinable public static func needsEvent(eventIdx: UInt16, newIdx: UInt16, oldIdx: UInt16) -> Bool {
        newIdx &- eventIdx &- 1 < newIdx &- oldIdx
    }

    // MARK: - Receiving used buffers (§2.7.14)

    /// Whether the device has returned buffers we have not taken yet.
    public var hasUsedBuffers: Bool {
        VirtioMemoryOrdering.loadAcquire(used + SplitVirtqueueLayout.ringIdxOffset) != lastUsedIdx
    }

    /// Takes the next used buffer and returns its descriptors to the free
    /// list, or returns nil when the device has returned nothing new.
    ///
    /// Throws when the entry names a head that is not in flight: the device
    /// broke §2.7.8, and the queue cannot be trusted until a reset.
    public func takeUsed() throws -> VirtqUsedBuffer? {
        // Point 3 in `VirtioMemoryOrdering`: acquire `used.idx`, then read the entry.
        let deviceIdx = VirtioMemoryOrdering.loadAcquire(used + SplitVirtqueueLayout.ringIdxOffset)
        guard deviceIdx != lastUsedIdx else { return nil }
        guard deviceIdx &- lastUsedIdx <= queueSize else {
            throw VirtioError(.deviceProtocolViolation,
                              "virtqueue \(index): used.idx \(deviceIdx) is more than \(queueSize) entries ahead of \(lastUsedIdx)")
        }
        let element = used + SplitVirtqueueLayout.ringEntriesOffset
            + Int(lastUsedIdx & mask) * SplitVirtqueueLayout.usedElementSize
        let id = UInt32(littleEndian: element.load(fromByteOffset: SplitVirtqueueLayout.usedElementIdOffset, as: UInt32.self))
        let length = UInt32(littleEndian: element.load(fromByteOffset: SplitVirtqueueLayout.usedElementLenOffset, as: UInt32.self))
        guard id < UInt32(queueSize), chainLengths[Int(id)] != 0 else {
            throw VirtioError(.deviceProtocolViolation,
                              "virtqueue \(index): used ring entry \(lastUsedIdx) names descriptor \(id), which is not the head of a buffer in flight")
        }
        lastUsedIdx &+= 1
        let head = UInt16(truncatingIfNeeded: id)
        let token = tokens[Int(head)]
        freeChain(head: head)
        return VirtqUsedBuffer(head: head, length: length, token: token)
    }

    /// Returns a chain's descriptors to the front of the free list.
    private func freeChain(head: UInt16) {
        let count = Int(chainLengths[Int(head)])
        var tail = head
        for _ in 1..<count {
            tail = UInt16(littleEndian: descriptorPointer(tail).load(
                fromByteOffset: SplitVirtqueueLayout.descriptorNextOffset, as: UInt16.self))
        }
        descriptorPointer(tail).storeBytes(of: freeHead.littleEndian,
                                           toByteOffset: SplitVirtqueueLayout.descriptorNextOffset, as: UInt16.self)
        freeHead = head
        freeCount += count
        chainLengths[Int(head)] = 0
        tokens[Int(head)] = -1
    }

    /// Calls `body` with the token of every chain still in flight and forgets
    /// them all. Only valid after the device was reset, when it no longer
    /// touches the queue (§2.4); used to return frame slots at shutdown.
    public func drainInFlight(_ body: (Int32) -> Void) {
        for head in 0..<layout.queueSize where chainLengths[head] != 0 {
            body(tokens[head])
            freeChain(head: UInt16(truncatingIfNeeded: head))
        }
    }

    @usableFromInline func descriptorPointer(_ index: UInt16) -> UnsafeMutableRawPointer {
        descriptors + Int(index) * SplitVirtqueueLayout.descriptorSize
    }
}
