import CapnetBase
import Foundation
import NIC

/// A simulated virtio-net device: the device side of the transport and of
/// the split virtqueues, over the memory the driver allocated through
/// `dma`. Tests drive it from their own thread (`processTransmitQueue`,
/// `deliver`) or from a second thread (`startEchoThread`).
///
/// It implements the behaviours the driver has to cope with: out-of-order
/// completion, event-index notification suppression, receive packets spread
/// over several buffers, checksum flags, link changes and a refused
/// FEATURES_OK. Violations of the virtqueue contract by the driver are
/// collected in `violations` rather than trapping.
public final class SimulatedVirtioNetDevice: VirtioTransport {
    /// Order in which the device completes transmit buffers.
    public enum CompletionOrder: Sendable, Equatable {
        /// In the order the driver made them available.
        case inOrder
        /// Each batch processed in one call completes last-first.
        case reversed
        /// Held until `completeHeldTransmits(order:)`.
        case held
    }

    /// Checksum information the device attaches to a delivered frame (§5.1.6.4).
    public enum ReceiveChecksum: Sendable, Equatable {
        case none
        /// VIRTIO_NET_HDR_F_DATA_VALID.
        case dataValid
        /// VIRTIO_NET_HDR_F_NEEDS_CSUM: the 16 bits at `start + offset` hold
        /// the pseudo-header sum, the rest of the sum is the driver's.
        case partial(start: Int, offset: Int)
    }

    public struct Options: Sendable {
        public var offeredFeatures: VirtioFeatures = [.version1, .netMAC, .netStatus, .netMergeableReceiveBuffers,
                                                      .netChecksum, .netGuestChecksum, .eventIndex]
        /// Features the device insists on: it clears FEATURES_OK unless the
        /// driver accepts all of them.
        public var requiredFeatures: VirtioFeatures = []
        public var macAddress = MACAddress(0x02, 0x00, 0x00, 0x00, 0x00, 0x01)
        public var linkUp = true
        public var maxQueueSize = 256
        /// Maximum packet bytes (header included) the device writes into one
        /// receive buffer. A value below the buffer size makes packets span
        /// several buffers under MRG_RXBUF, and `nil` fills each buffer.
        public var receiveBytesPerBuffer: Int? = nil
        public var transmitCompletion: CompletionOrder = .inOrder
        /// Entries per available buffer notification the device requests
        /// (1 means every time). Without EVENT_IDX, any value above 1 sets
        /// VIRTQ_USED_F_NO_NOTIFY after the first notification.
        public var availableNotificationInterval = 1
        /// The device's address offset between pointers and device addresses.
        public var dmaAddressOffset: UInt64 = 0x1000_0000_0000

        public init() {}
    }

    /// Counts of the device's events, for assertions.
    public struct Statistics: Sendable, Equatable {
        public var availableNotifications: [UInt16: Int] = [:]
        public var usedNotifications = 0
        public var configNotifications = 0
        public var transmittedFrames = 0
        public var deliveredFrames = 0
        public var receiveDropsNoBuffer = 0
        public var receiveDropsTooLarge = 0
        public var receiveDropsLinkDown = 0
        /// Processing runs that found new buffers which the notification
        /// rules required the driver to announce, with no notification sent.
        public var missedAvailableNotifications = 0
        public var resets = 0
    }

    public let location: String
    public let options: Options
    let memory: HostDMAAllocator
    public var dma: DMAAllocator { memory }

    /// Serializes the device state between the driver's thread and the
    /// device thread. The rings are not under it: they are shared memory,
    /// ordered only by `VirtioMemoryOrdering`, as with a real device.
    let lock = NSCondition()
    var status: VirtioDeviceStatus = []
    var acceptedFeatures: VirtioFeatures = []
    var linkUp: Bool
    var generation: UInt8 = 0
    var configChangePending = false
    var wakePending = false
    var queues: [UInt16: SimulatedVirtqueue] = [:]
    var notifiedSinceProcessing: Set<UInt16> = []
    var heldTransmits: [UInt16] = []
    var stats = Statistics()
    var violationLog: [String] = []
    var echoBacklog: [[UInt8]] = []
    var echoStop = false
    var echoThread: Thread?

    /// Receives each transmitted frame (without the virtio header), outside
    /// the device's lock: the other end of an in-memory link.
    public var onTransmit: (([UInt8]) -> Void)?

    public init(location: String = "sim:virtio-net", options: Options = Options()) {
        self.location = location
        self.options = options
        linkUp = options.linkUp
        memory = HostDMAAllocator(addressOffset: options.dmaAddressOffset)
    }

    public var statistics: Statistics { lock.withLock { stats } }
    public var violations: [String] { lock.withLock { violationLog } }
    /// The features the driver wrote.
    public var driverFeatures: VirtioFeatures { lock.withLock { acceptedFeatures } }
    public var currentStatus: VirtioDeviceStatus { lock.withLock { status } }

    // MARK: - VirtioTransport

    public func readStatus() -> VirtioDeviceStatus { lock.withLock { status } }

    public func writeStatus(_ newStatus: VirtioDeviceStatus) {
        lock.withLock {
            guard !newStatus.isEmpty else {
                resetLocked()
                return
            }
            var effective = newStatus
            // §2.2: the device accepts FEATURES_OK only for a subset of its
            // offer that contains what it requires; otherwise the bit stays clear.
            if newStatus.contains(.featuresOK) && !status.contains(.featuresOK) {
                let subset = acceptedFeatures.isSubset(of: options.offeredFeatures)
                let complete = acceptedFeatures.isSuperset(of: options.requiredFeatures)
                if !(subset && complete) { effective.remove(.featuresOK) }
            }
            if newStatus.contains(.driverOK) && !status.contains(.featuresOK) {
                violationLog.append("DRIVER_OK set without FEATURES_OK (status \(newStatus))")
            }
            status = effective
        }
    }

    public func readDeviceFeatures() -> VirtioFeatures { options.offeredFeatures }

    public func writeDriverFeatures(_ features: VirtioFeatures) {
        lock.withLock {
            if status.contains(.featuresOK) { violationLog.append("driver features written after FEATURES_OK") }
            acceptedFeatures = features
        }
    }

    public func maxQueueSize(_ index: UInt16) -> Int {
        index <= VirtioNetConfig.transmitQueue1 ? options.maxQueueSize : 0
    }

    public func activateQueue(_ index: UInt16, size: Int, descriptorArea: UInt64,
                              driverArea: UInt64, deviceArea: UInt64) throws {
        try lock.withLock {
            guard status.contains(.featuresOK), !status.contains(.driverOK) else {
                violationLog.append("queue \(index) configured in status \(status)")
                throw VirtioError(.transportFailure, "queue \(index) configured in status \(status)")
            }
            queues[index] = try SimulatedVirtqueue(
                index: index, size: size, eventIndex: acceptedFeatures.contains(.eventIndex),
                descriptorArea: descriptorArea, driverArea: driverArea, deviceArea: deviceArea, memory: memory)
        }
    }

    public func notify(queue index: UInt16) {
        lock.withLock {
            if !status.contains(.driverOK) { violationLog.append("notification for queue \(index) before DRIVER_OK") }
            stats.availableNotifications[index, default: 0] += 1
            notifiedSinceProcessing.insert(index)
            lock.broadcast()
        }
    }

    public func configGeneration() -> UInt8 { lock.withLock { generation } }

    public func readConfig8(offset: Int) -> UInt8 {
        lock.withLock {
            let mac = options.macAddress
            if offset >= VirtioNetConfig.macOffset && offset < VirtioNetConfig.macOffset + VirtioNetConfig.macLength {
                return mac.octet(offset - VirtioNetConfig.macOffset)
            }
            return 0
        }
    }

    public func readConfig16(offset: Int) -> UInt16 {
        lock.withLock {
            offset == VirtioNetConfig.statusOffset && linkUp ? VirtioNetConfig.statusLinkUp : 0
        }
    }

    public func takeConfigurationChange() -> Bool {
        lock.withLock {
            defer { configChangePending = false }
            return configChangePending
        }
    }

    public func waitForNotification(timeout: Nanoseconds) throws {
        lock.withLock {
            let deadline = Date(timeIntervalSinceNow: timeout.seconds)
            while !wakePending {
                if !lock.wait(until: deadline) { break }
            }
            wakePending = false
        }
    }

    public func close() {
        stopEchoThread()
    }

    // MARK: - Device behaviour

    /// Changes VIRTIO_NET_S_LINK_UP and sends a configuration change
    /// notification (§5.1.4, §2.5).
    public func setLinkUp(_ up: Bool) {
        lock.withLock {
            linkUp = up
            generation &+= 1
            configChangePending = true
            stats.configNotifications += 1
            wakePending = true
            lock.broadcast()
        }
    }

    /// Sets DEVICE_NEEDS_RESET and sends a configuration change
    /// notification, as a device that hit an unrecoverable error does (§2.1.2).
    public func signalNeedsReset() {
        lock.withLock {
            status.insert(.deviceNeedsReset)
            configChangePending = true
            stats.configNotifications += 1
            wakePending = true
            lock.broadcast()
        }
    }

    func resetLocked() {
        status = []
        acceptedFeatures = []
        queues = [:]
        heldTransmits = []
        notifiedSinceProcessing = []
        stats.resets += 1
    }

    func raiseUsedNotificationLocked() {
        stats.usedNotifications += 1
        wakePending = true
        lock.broadcast()
    }

    /// Records a missed notification when the driver published buffers it
    /// had to announce (§2.7.10 driver requirements) without announcing them.
    func checkNotificationLocked(_ queue: SimulatedVirtqueue) {
        let pending = queue.pendingAvailable
        guard pending > 0, !notifiedSinceProcessing.contains(queue.index) else { return }
        let required: Bool
        if queue.eventIndex {
            let event = queue.availEvent
            required = (0..<pending).contains { queue.lastAvailIdx &+ UInt16($0) == event }
        } else {
            required = VirtioMemoryOrdering.loadRelaxed(queue.used) & VirtqUsedFlags.noNotify == 0
        }
        if required { stats.missedAvailableNotifications += 1 }
    }

    func record(_ error: Error) {
        violationLog.append("\(error)")
    }
}

extension NSCondition {
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}
