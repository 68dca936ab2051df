import CapnetBase

/// A virtio-net device driven from user space over a split virtqueue pair
/// (virtio 1.2 §5.1), presented to the stack as a `FrameDevice`.
///
/// Receive buffers are frame pool slots, written in place by the device:
/// each is a two-descriptor chain of a 12-byte header area and one slot, so
/// the frame starts at the slot's first byte as `Frame` requires. Transmit
/// chains are a header area and the frame's slot, which returns to the pool
/// when the device reports it used.
///
/// Bounds: at most `queueSize / 2` receive buffers are posted, and at most
/// `queueSize / 2` frames are in flight on transmit. A frame larger than
/// one pool slot is dropped and counted.
public final class VirtioNetDevice: FrameDevice {
    /// Settings chosen by the caller; the device's offer narrows them.
    public struct Configuration: Sendable {
        /// A name for logs, such as `virtio0`.
        public var name: String
        /// The largest IP packet to send and expect, in bytes.
        public var mtu: Int
        /// The largest virtqueue size to use; the device's maximum may be smaller.
        public var maxQueueSize: Int
        /// The features to accept when offered (a subset of `supportedFeatures`).
        public var features: VirtioFeatures
        /// The MAC address to use when the device has none (no VIRTIO_NET_F_MAC).
        public var fallbackMACAddress: MACAddress?
        /// How `wait` waits for received frames.
        public var waitMode: WaitMode

        public init(name: String = "virtio0", mtu: Int = VirtioNetDevice.defaultMTU,
                    maxQueueSize: Int = VirtioNetDevice.defaultMaxQueueSize,
                    features: VirtioFeatures = VirtioNetDevice.supportedFeatures,
                    fallbackMACAddress: MACAddress? = nil, waitMode: WaitMode = .interrupt) {
            self.name = name
            self.mtu = mtu
            self.maxQueueSize = maxQueueSize
            self.features = features
            self.fallbackMACAddress = fallbackMACAddress
            self.waitMode = waitMode
        }
    }

    /// How the driver learns that the device used receive buffers.
    public enum WaitMode: String, Sendable, CaseIterable {
        /// Sleep until the device's interrupt (an eventfd under VFIO) or the
        /// deadline. Costs no CPU while idle.
        case interrupt
        /// Spin on the used ring with notifications off until a buffer is
        /// used or the deadline passes. One core stays busy, and a frame is
        /// seen without an interrupt's wake-up latency.
        case busyPoll = "busy-poll"
    }

    /// The Ethernet MTU, used unless the caller sets another.
    public static let defaultMTU = 1500
    /// 256 entries: 128 receive buffers, QEMU's default queue size for virtio-net.
    public static let defaultMaxQueueSize = 256
    /// Destination, source and EtherType in front of the IP packet.
    public static let ethernetHeaderLength = 14
    /// Descriptors per chain on both queues: the header area and the frame slot.
    static let descriptorsPerBuffer = 2
    /// Per-head header areas are this far apart (12 bytes rounded up so each starts 16-byte aligned).
    static let headerAreaStride = 16
    /// Queue regions start on a page so an IOMMU can map each one alone.
    static let queueRegionAlignment = 4096
    static let headerRegionAlignment = 64

    public let name: String
    public private(set) var macAddress: MACAddress
    public let mtu: Int
    public let pool: FramePool
    public internal(set) var counters = DeviceCounters()
    /// Counters specific to virtio: drop reasons and notifications.
    public internal(set) var virtioCounters = VirtioNetCounters()
    /// The features both sides agreed on.
    public let negotiatedFeatures: VirtioFeatures
    /// VIRTIO_NET_S_LINK_UP from the configuration space; always true when
    /// VIRTIO_NET_F_STATUS was not negotiated (§5.1.4.2).
    public internal(set) var isLinkUp: Bool

    let transport: VirtioTransport
    let waitMode: WaitMode
    let receiveQueue: SplitVirtqueue
    let transmitQueue: SplitVirtqueue
    let receiveHeaders: DMARegion
    let transmitHeaders: DMARegion
    let poolRegion: DMARegion
    let mergeableBuffers: Bool
    let guestChecksum: Bool
    /// The first device protocol violation; every later call throws it.
    var failure: VirtioError?
    var isClosed = false
    let log = Logger(.nic)

    /// Initializes the device behind `transport` (virtio 1.2 §3.1.1 and
    /// §5.1.5) and posts receive buffers from `pool`.
    ///
    /// Throws `VirtioError` for a legacy-only device, rejected features, a
    /// missing queue, or a pool whose slots cannot contain `mtu + 14` bytes.
    /// After a failure past the reset, the device has FAILED set.
    public init(transport: VirtioTransport, pool: FramePool, configuration: Configuration = Configuration()) throws {
        let log = Logger(.nic)
        let maxFrame = configuration.mtu + Self.ethernetHeaderLength
        guard pool.slotSize >= maxFrame else {
            throw VirtioError(.invalidConfiguration,
                              "\(configuration.name): pool slots of \(pool.slotSize) bytes cannot hold a \(maxFrame)-byte frame (MTU \(configuration.mtu)); use larger slots or a smaller MTU")
        }

        // §3.1.1 steps 1-6.
        let (accepted, statusSoFar) = try Self.beginInitialization(
            transport, supported: configuration.features.intersection(Self.supportedFeatures), log: log)
        var status = statusSoFar

        // §3.1.1 step 7: device-specific setup (§5.1.5): queues, MAC, link.
        do {
            let eventIndex = accepted.contains(.eventIndex)
            receiveQueue = try Self.makeQueue(VirtioNetConfig.receiveQueue1, transport: transport,
                                              maxQueueSize: configuration.maxQueueSize, eventIndex: eventIndex)
            transmitQueue = try Self.makeQueue(VirtioNetConfig.transmitQueue1, transport: transport,
                                               maxQueueSize: configuration.maxQueueSize, eventIndex: eventIndex)
            let receiveBuffers = receiveQueue.queueSizeValue / Self.descriptorsPerBuffer
            guard pool.slotCount > receiveBuffers else {
                throw VirtioError(.invalidConfiguration,
                                  "\(configuration.name): pool of \(pool.slotCount) slots cannot fill \(receiveBuffers) receive buffers and leave slots to transmit; use a larger pool")
            }
            receiveHeaders = try transport.dma.allocate(
                byteCount: receiveQueue.queueSizeValue * Self.headerAreaStride, alignment: Self.headerRegionAlignment)
            transmitHeaders = try transport.dma.allocate(
                byteCount: transmitQueue.queueSizeValue * Self.headerAreaStride, alignment: Self.headerRegionAlignment)
            poolRegion = try transport.dma.map(pool.base, byteCount: pool.slotSize * pool.slotCount)

            macAddress = try Self.readMACAddress(transport, features: accepted, configuration: configuration)
            isLinkUp = try Self.readLinkStatus(transport, features: accepted)
        } catch {
            transport.writeStatus(status.union(.failed))
            throw error
        }

        self.transport = transport
        self.pool = pool
        self.name = configuration.name
        waitMode = configuration.waitMode
        self.mtu = configuration.mtu
        negotiatedFeatures = accepted
        mergeableBuffers = accepted.contains(.netMergeableReceiveBuffers)
        guestChecksum = accepted.contains(.netGuestChecksum)

        // The driver polls, so used buffer notifications stay off until `wait` enables them.
        receiveQueue.disableUsedNotifications()
        transmitQueue.disableUsedNotifications()
        // §5.1.5 step 5: fill the receive queue. Buffers may be placed before
        // DRIVER_OK, but no notification may be sent until then (§3.1.1).
        postReceiveBuffers(notify: false)

        // §3.1.1 step 8: DRIVER_OK; the device is live.
        status.insert(.driverOK)
        transport.writeStatus(status)
        transport.notify(queue: receiveQueue.index)
        virtioCounters.availableNotifications += 1

        log.info("virtio-net device ready",
                 "device=\(transport.location) name=\(name) mac=\(macAddress) link=\(isLinkUp ? "up" : "down") "
                 + "features=\(accepted) rx_queue=\(receiveQueue.queueSizeValue) tx_queue=\(transmitQueue.queueSizeValue)")
    }

    /// Allocates, lays out and activates one split virtqueue of the largest
    /// power-of-two size within both the device's and the caller's limit.
    static func makeQueue(_ index: UInt16, transport: VirtioTransport, maxQueueSize: Int,
                          eventIndex: Bool) throws -> SplitVirtqueue {
        let deviceMax = transport.maxQueueSize(index)
        var size = 1
        while size * 2 <= min(deviceMax, maxQueueSize, SplitVirtqueueLayout.maxQueueSize) { size *= 2 }
        guard deviceMax > 0, size >= descriptorsPerBuffer, let layout = SplitVirtqueueLayout(queueSize: size) else {
            throw VirtioError(.queueUnavailable,
                              "virtio-net at \(transport.location): virtqueue \(index) has maximum size \(deviceMax) "
                              + "(configured limit \(maxQueueSize)); need at least \(descriptorsPerBuffer)")
        }
        let region = try transport.dma.allocate(byteCount: layout.byteCount, alignment: queueRegionAlignment)
        let queue = try SplitVirtqueue(index: index, layout: layout, region: region, eventIndex: eventIndex)
        try transport.activateQueue(index, size: size, descriptorArea: queue.descriptorAreaAddress,
                                    driverArea: queue.driverAreaAddress, deviceArea: queue.deviceAreaAddress)
        return queue
    }

    static func readMACAddress(_ transport: VirtioTransport, features: VirtioFeatures,
                               configuration: Configuration) throws -> MACAddress {
        guard features.contains(.netMAC) else {
            guard let fallback = configuration.fallbackMACAddress else {
                throw VirtioError(.invalidConfiguration,
                                  "virtio-net at \(transport.location): the device has no MAC address (VIRTIO_NET_F_MAC not offered); pass one with --mac")
            }
            return fallback
        }
        return try transport.readConfigConsistently {
            var value: UInt64 = 0
            for i in 0..<VirtioNetConfig.macLength {
                value = value << 8 | UInt64(transport.readConfig8(offset: VirtioNetConfig.macOffset + i))
            }
            return MACAddress(rawValue: value)
        }
    }

    static func readLinkStatus(_ transport: VirtioTransport, features: VirtioFeatures) throws -> Bool {
        guard features.contains(.netStatus) else { return true }
        let status = try transport.readConfigConsistently { transport.readConfig16(offset: VirtioNetConfig.statusOffset) }
        return status & VirtioNetConfig.statusLinkUp != 0
    }

    /// Blocks until the device may have returned a received frame, a
    /// configuration change arrived, or `deadline` passes.
    public func wait(until deadline: Instant, now: Instant) throws {
        if let failure { throw failure }
        guard deadline > now, !receiveQueue.hasUsedBuffers else { return }
        if waitMode == .busyPoll {
            busyPoll(until: deadline, now: now)
            return
        }
        // Enable notifications, then re-check: a buffer used between the
        // check above and the enable would otherwise wake no one (§2.7.14).
        guard receiveQueue.enableUsedNotifications() else {
            receiveQueue.disableUsedNotifications()
            return
        }
        defer { receiveQueue.disableUsedNotifications() }
        try transport.waitForNotification(timeout: deadline - now)
    }

    /// Spins on the receive queue's used index with notifications left off
    /// (§2.7.10), checking the monotonic clock every `busyPollClockInterval`
    /// ring reads, because reading the clock costs more than a ring read.
    private func busyPoll(until deadline: Instant, now: Instant) {
        let clock = MonotonicTimeSource()
        var reads = 0
        while !receiveQueue.hasUsedBuffers {
            reads += 1
            if reads % Self.busyPollClockInterval == 0 && clock.now() >= deadline { return }
        }
    }

    /// Ring reads between clock checks while busy-polling.
    static let busyPollClockInterval = 64

    /// Resets the device so it stops touching memory (§2.4), returns every
    /// posted and in-flight slot to the pool, and closes the transport.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        do {
            try transport.reset()
        } catch {
            // The slots stay out of the pool: the device may still write them.
            log.error("virtio-net reset at close failed; posted receive slots are not returned to the pool",
                      "device=\(transport.location) error=\(error)")
            transport.close()
            return
        }
        receiveQueue.drainInFlight { pool.release($0) }
        transmitQueue.drainInFlight { pool.release($0) }
        transport.close()
        log.info("virtio-net device closed", "device=\(transport.location) name=\(name)")
    }

    /// Records the first protocol violation and logs it; the device is
    /// unusable until re-created.
    func recordFailure(_ error: Error) {
        let virtioError = error as? VirtioError
            ?? VirtioError(.deviceProtocolViolation, "virtio-net at \(transport.location): \(error)")
        guard failure == nil else { return }
        failure = virtioError
        log.error("virtio-net device stopped after a protocol violation",
                  "device=\(transport.location) error=\(virtioError)")
    }
}

/// Counters kept by the virtio-net driver in addition to `DeviceCounters`.
public struct VirtioNetCounters: Sendable, Equatable {
    /// Received frames spread over more buffers than fit in one pool slot.
    public var receiveDropsOversize: UInt64 = 0
    /// Received buffers shorter than the header, with `num_buffers` 0, with
    /// buffers missing, or with checksum offsets outside the frame.
    public var receiveDropsMalformed: UInt64 = 0
    /// Refills that stopped early because the pool had no free slot.
    public var receiveRefillPoolExhausted: UInt64 = 0
    /// Received frames assembled from more than one buffer (MRG_RXBUF).
    public var receiveMergedFrames: UInt64 = 0
    /// Received frames whose partial checksum the driver completed (NEEDS_CSUM).
    public var receiveChecksumsCompleted: UInt64 = 0
    /// Received frames the device marked DATA_VALID.
    public var receiveChecksumsValidated: UInt64 = 0
    /// Frames not sent because the link was down.
    public var transmitDropsLinkDown: UInt64 = 0
    /// Frames not sent because every transmit descriptor was in flight.
    public var transmitDropsQueueFull: UInt64 = 0
    /// Available buffer notifications sent to the device.
    public var availableNotifications: UInt64 = 0
    /// Link state changes seen in the configuration space.
    public var linkChanges: UInt64 = 0

    public init() {}
}
