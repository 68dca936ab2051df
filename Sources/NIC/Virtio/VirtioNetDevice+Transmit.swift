import CapnetBase

extension VirtioNetDevice {
    /// Queues every frame in `batch` on the transmit queue behind a plain
    /// header (virtio 1.2 §5.1.6.2), or drops and counts it; empties the
    /// batch. Slots return to the pool once the device has used them.
    public func transmit(_ batch: inout FrameBatch, now: Instant) throws {
        if let failure {
            batch.releaseAll(to: pool)
            throw failure
        }
        reclaimTransmitted()
        let maxFrameLength = mtu + Self.ethernetHeaderLength
        var added = 0
        for i in 0..<batch.count {
            let frame = batch[i]
            let length = Int(frame.length)
            guard length > 0, length <= maxFrameLength else {
                pool.release(frame.slot)
                counters.transmitDropsOversize += 1
                continue
            }
            guard isLinkUp else {
                pool.release(frame.slot)
                counters.transmitDropsError += 1
                virtioCounters.transmitDropsLinkDown += 1
                continue
            }
            if transmitQueue.freeCount < Self.descriptorsPerBuffer { reclaimTransmitted() }
            guard transmitQueue.freeCount >= Self.descriptorsPerBuffer, let head = transmitQueue.nextHead else {
                pool.release(frame.slot)
                counters.transmitDropsError += 1
                virtioCounters.transmitDropsQueueFull += 1
                continue
            }

            let headerOffset = Int(head) * Self.headerAreaStride
            VirtioNetHeader.plain.write(to: transmitHeaders.base + headerOffset)
            let headerAddress = transmitHeaders.deviceAddress(atOffset: headerOffset)
            let frameAddress = poolRegion.deviceAddress(atOffset: Int(frame.slot) * pool.slotSize)
            let frameLength = UInt32(truncatingIfNeeded: length)
            transmitQueue.addChain(elementCount: Self.descriptorsPerBuffer, token: frame.slot) { i in
                i == 0
                    ? VirtqBufferElement(address: headerAddress, length: UInt32(VirtioNetHeader.byteCount), deviceWritable: false)
                    : VirtqBufferElement(address: frameAddress, length: frameLength, deviceWritable: false)
            }
            added += 1
            counters.transmittedFrames += 1
            counters.transmittedBytes += UInt64(length)
        }
        batch.removeAll()

        if added > 0 {
            transmitQueue.publish()
            if transmitQueue.needsNotification() {
                transport.notify(queue: transmitQueue.index)
                virtioCounters.availableNotifications += 1
            }
        }
        if let failure { throw failure }
    }

    /// Returns the slots of transmitted frames the device has used to the pool.
    /// A protocol violation is recorded, not thrown, so the caller can still
    /// release the frames it holds.
    func reclaimTransmitted() {
        guard failure == nil else { return }
        do {
            while let done = try transmitQueue.takeUsed() { pool.release(done.token) }
        } catch {
            recordFailure(error)
        }
    }
}
