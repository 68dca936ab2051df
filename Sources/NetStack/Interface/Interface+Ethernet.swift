import CapnetBase
import NIC

extension Interface {
    /// Passes one received frame to ARP or IPv4 after checking its Ethernet header.
    func receiveFrame(_ frame: Frame, now: Instant) {
        counters.receivedFrames += 1
        counters.receivedBytes += UInt64(frame.length)
        let bytes = UnsafeRawBufferPointer(device.pool.bytes(frame))

        let ethernet: EthernetFrame
        do {
            ethernet = try EthernetFrame(checking: bytes)
        } catch {
            count(.ethernetTruncated)
            return
        }

        // Accept frames to our MAC address and to broadcast. Multicast groups
        // are never joined, so other group addresses are dropped too.
        let isLinkBroadcast = ethernet.destination.isBroadcast
        guard ethernet.destination == device.macAddress || isLinkBroadcast else {
            count(.ethernetNotForUs)
            return
        }

        guard ethernet.source != device.macAddress else {
            count(.ethernetOwnFrame)
            return
        }

        switch ethernet.etherType {
        case .arp:
            receiveARP(ethernet.payload, now: now)
        case .ipv4:
            receiveIPv4(ethernet.payload, isLinkBroadcast: isLinkBroadcast, now: now)
        default:
            count(.ethernetUnsupportedType)
        }
    }

    /// Takes a frame slot and writes an Ethernet header with our source
    /// address; returns nil (and counts the drop) when the pool is empty.
    func allocateFrame(destination: MACAddress, etherType: EtherType, payloadLength: Int) -> Frame? {
        guard let slot = device.pool.allocate() else {
            count(.poolExhausted)
            return nil
        }
        let frame = Frame(slot: slot, length: EthernetFrame.headerLength + payloadLength)
        EthernetRepr(destination: destination, source: device.macAddress, etherType: etherType)
            .emit(into: device.pool.bytes(frame))
        return frame
    }

    /// Returns the frame's bytes after the Ethernet header.
    func payload(of frame: Frame) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: device.pool.bytes(frame)[EthernetFrame.headerLength...])
    }

    /// Sets the destination MAC address of a frame built before its next hop resolved.
    func setDestination(_ destination: MACAddress, of frame: Frame) {
        destination.write(to: device.pool.bytes(frame), offset: EthernetFrame.Field.destination)
    }

    /// Adds a finished frame to the transmit batch, transmitting the batch first when it is full.
    func enqueueForTransmit(_ frame: Frame) {
        if transmitBatch.isFull { flushTransmitBatch(now: currentTime) }
        transmitBatch.append(frame)
    }

    /// Hands the transmit batch to the device.
    func flushTransmitBatch(now: Instant) {
        guard !transmitBatch.isEmpty else { return }
        var bytes: UInt64 = 0
        for index in 0..<transmitBatch.count { bytes += UInt64(transmitBatch[index].length) }
        let frames = UInt64(transmitBatch.count)
        do {
            try device.transmit(&transmitBatch, now: now)
            counters.sentFrames += frames
            counters.sentBytes += bytes
        } catch {
            // The device owns the frames it took; release any it left behind.
            for _ in 0..<transmitBatch.count { count(.transmitError) }
            transmitBatch.releaseAll(to: device.pool)
            if transmitErrorLog.allow(now: now) {
                Self.log.warning("transmit failed on \(device.name): \(error)", "frames=\(frames)")
            }
        }
    }
}
