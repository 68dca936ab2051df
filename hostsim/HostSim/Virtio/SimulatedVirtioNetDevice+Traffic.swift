import CapnetBase
import Foundation
import NIC

extension SimulatedVirtioNetDevice {
    /// Bytes of the virtio-net header with VIRTIO_F_VERSION_1 (§5.1.6).
    static let headerLength = VirtioNetHeader.byteCount

    /// Takes every available transmit buffer, passes its frame to
    /// `onTransmit`, and completes it per `options.transmitCompletion`.
    /// Returns the number of frames taken.
    @discardableResult
    public func processTransmitQueue() -> Int {
        let frames = lock.withLock { processTransmitLocked() }
        if let onTransmit {
            for frame in frames { onTransmit(frame) }
        }
        return frames.count
    }

    func processTransmitLocked() -> [[UInt8]] {
        guard status.contains(.driverOK), let queue = queues[VirtioNetConfig.transmitQueue1] else { return [] }
        checkNotificationLocked(queue)
        let notified = notifiedSinceProcessing.remove(queue.index) != nil
        var frames: [[UInt8]] = []
        var heads: [UInt16] = []
        do {
            while let chain = try queue.takeAvailable() {
                let bytes = chain.readAll()
                if !chain.writable.isEmpty { violationLog.append("transmit chain \(chain.head) has device-writable elements") }
                guard bytes.count >= Self.headerLength else {
                    violationLog.append("transmit chain \(chain.head) of \(bytes.count) bytes is shorter than the header")
                    heads.append(chain.head)
                    continue
                }
                frames.append(Array(bytes[Self.headerLength...]))
                heads.append(chain.head)
            }
        } catch {
            record(error)
        }
        stats.transmittedFrames += frames.count
        switch options.transmitCompletion {
        case .inOrder: completeLocked(queue, heads)
        case .reversed: completeLocked(queue, heads.reversed())
        case .held: heldTransmits.append(contentsOf: heads)
        }
        // Re-arm only after a notification, so with an interval of N the
        // driver notifies once per N entries, not once per processing run.
        if notified { queue.requestAvailableNotification(afterEntries: options.availableNotificationInterval) }
        return frames
    }

    /// Completes the held transmit buffers, last-first when `reversed`.
    public func completeHeldTransmits(reversed: Bool) {
        lock.withLock {
            guard let queue = queues[VirtioNetConfig.transmitQueue1] else { return }
            let heads = reversed ? heldTransmits.reversed() : heldTransmits
            heldTransmits = []
            completeLocked(queue, heads)
        }
    }

    /// Transmit buffers taken but not yet completed.
    public var heldTransmitCount: Int { lock.withLock { heldTransmits.count } }

    func completeLocked(_ queue: SimulatedVirtqueue, _ heads: [UInt16]) {
        // Transmit buffers are device-readable only, so `len` is 0 (§2.7.8).
        for head in heads { queue.putUsed(head: head, length: 0) }
        if queue.publishUsed() { raiseUsedNotificationLocked() }
    }

    /// Writes `frame` into receive buffers as a received packet (§5.1.6.4)
    /// and notifies the driver if it asked. Returns false when the device
    /// drops it: link down, no buffers, or larger than the buffers allow.
    @discardableResult
    public func deliver(_ frame: [UInt8], checksum: ReceiveChecksum = .none) -> Bool {
        lock.withLock { deliverLocked(frame, checksum: checksum) }
    }

    func deliverLocked(_ frame: [UInt8], checksum: ReceiveChecksum) -> Bool {
        guard status.contains(.driverOK), let queue = queues[VirtioNetConfig.receiveQueue1] else { return false }
        guard linkUp else {
            stats.receiveDropsLinkDown += 1
            return false
        }
        checkNotificationLocked(queue)
        notifiedSinceProcessing.remove(queue.index)
        let mergeable = acceptedFeatures.contains(.netMergeableReceiveBuffers)
        let packetLength = Self.headerLength + frame.count

        // Take buffers until the packet fits: one without MRG_RXBUF, as
        // many as needed with it.
        var chains: [(chain: SimulatedChain, capacity: Int)] = []
        var capacity = 0
        do {
            while capacity < packetLength, mergeable || chains.isEmpty, let chain = try queue.takeAvailable() {
                let usable = min(chain.writableCapacity, options.receiveBytesPerBuffer ?? Int.max)
                chains.append((chain, usable))
                capacity += usable
            }
        } catch {
            record(error)
        }
        guard capacity >= packetLength else {
            // The buffers stay with the device for the next packet, as
            // QEMU peeks before it pops.
            queue.rewind(chains.count)
            if chains.isEmpty || mergeable { stats.receiveDropsNoBuffer += 1 } else { stats.receiveDropsTooLarge += 1 }
            return false
        }

        var packet = makeHeader(checksum: checksum, numBuffers: chains.count)
        packet.append(contentsOf: frame)
        var offset = 0
        for (chain, usable) in chains {
            let count = min(usable, packet.count - offset)
            chain.write(packet[offset..<(offset + count)])
            queue.putUsed(head: chain.head, length: count)
            offset += count
        }
        stats.deliveredFrames += 1
        if queue.publishUsed() { raiseUsedNotificationLocked() }
        return true
    }

    func makeHeader(checksum: ReceiveChecksum, numBuffers: Int) -> [UInt8] {
        var header = VirtioNetHeader(flags: [], gsoType: VirtioNetHeader.gsoNone, headerLength: 0, gsoSize: 0,
                                     checksumStart: 0, checksumOffset: 0,
                                     numBuffers: UInt16(truncatingIfNeeded: numBuffers))
        switch checksum {
        case .none:
            break
        case .dataValid:
            header.flags = .dataValid
        case .partial(let start, let offset):
            // §5.1.6.4: only with VIRTIO_NET_F_GUEST_CSUM.
            if acceptedFeatures.contains(.netGuestChecksum) {
                header.flags = .needsChecksum
                header.checksumStart = UInt16(truncatingIfNeeded: start)
                header.checksumOffset = UInt16(truncatingIfNeeded: offset)
            }
        }
        var bytes = [UInt8](repeating: 0, count: Self.headerLength)
        bytes.withUnsafeMutableBytes { header.write(to: $0.baseAddress!) }
        return bytes
    }

    // MARK: - Device thread

    /// Starts a thread that echoes every transmitted frame back into the
    /// receive queue, waiting for receive buffers when none are posted.
    /// It stops on `stopEchoThread()` or `close()`.
    public func startEchoThread() {
        lock.withLock { echoStop = false }
        let thread = Thread { [self] in runEchoLoop() }
        lock.withLock { echoThread = thread }
        thread.start()
    }

    /// Stops the echo thread and waits until it has left the rings alone.
    public func stopEchoThread() {
        lock.withLock {
            guard echoThread != nil else { return }
            echoStop = true
            lock.broadcast()
            while echoThread != nil { lock.wait() }
        }
    }

    /// Frames echoed back minus frames delivered: 0 once the echo caught up.
    public var echoBacklogCount: Int { lock.withLock { echoBacklog.count } }

    func runEchoLoop() {
        lock.withLock {
            // Each pass handles what the driver published. Between passes the
            // thread waits for a notification, but only briefly, because a
            // receive buffer posted with its notification suppressed wakes no one.
            while !echoStop {
                echoBacklog.append(contentsOf: processTransmitLocked())
                while let frame = echoBacklog.first, deliverLocked(frame, checksum: .none) {
                    echoBacklog.removeFirst()
                }
                if notifiedSinceProcessing.isEmpty {
                    _ = lock.wait(until: Date(timeIntervalSinceNow: Self.echoPollInterval))
                }
            }
            echoThread = nil
            lock.broadcast()
        }
    }

    /// Maximum wait of the echo thread for a notification before it reads the rings again.
    static let echoPollInterval: TimeInterval = 0.001
}
