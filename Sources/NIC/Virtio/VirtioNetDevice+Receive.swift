import CapnetBase

extension VirtioNetDevice {
    /// Appends frames the device has received (virtio 1.2 §5.1.6.4), then
    /// refills the receive queue from the pool.
    public func receive(into batch: inout FrameBatch, now: Instant) throws -> Int {
        if let failure { throw failure }
        try applyConfigurationChange()
        var appended = 0
        do {
            while !batch.isFull, let first = try receiveQueue.takeUsed() {
                guard let frame = try assembleFrame(first: first) else { continue }
                batch.append(frame)
                appended += 1
                counters.receivedFrames += 1
                counters.receivedBytes += UInt64(frame.length)
            }
        } catch {
            recordFailure(error)
            throw failure ?? error
        }
        postReceiveBuffers(notify: true)
        return appended
    }

    /// Turns the used buffer `first` (and, with MRG_RXBUF, the `num_buffers
    /// - 1` used buffers after it) into one frame in `first`'s slot. Returns
    /// nil after releasing every slot when the frame is dropped.
    func assembleFrame(first: VirtqUsedBuffer) throws -> Frame? {
        let slot = first.token
        let bufferCapacity = VirtioNetHeader.byteCount + pool.slotSize
        guard Int(first.length) >= VirtioNetHeader.byteCount, Int(first.length) <= bufferCapacity else {
            pool.release(slot)
            virtioCounters.receiveDropsMalformed += 1
            log.debug("dropped received buffer: used length outside header..buffer size",
                      "device=\(name) len=\(first.length) capacity=\(bufferCapacity)")
            return nil
        }
        let header = VirtioNetHeader(reading: receiveHeaders.base + Int(first.head) * Self.headerAreaStride)
        var frameLength = Int(first.length) - VirtioNetHeader.byteCount

        // §5.1.6.4: with MRG_RXBUF, num_buffers counts the buffers holding
        // this packet, this one included; otherwise the packet fits in one.
        let bufferCount = mergeableBuffers ? Int(header.numBuffers) : 1
        var malformed = bufferCount < 1
        var oversize = false
        let destination = pool.buffer(slot)
        for _ in 1..<max(bufferCount, 1) {
            let continuation: VirtqUsedBuffer?
            do {
                continuation = try receiveQueue.takeUsed()
            } catch {
                pool.release(slot)
                throw error
            }
            guard let next = continuation else {
                malformed = true
                break
            }
            let length = Int(next.length)
            if length > bufferCapacity {
                malformed = true
            } else if !malformed && !oversize && frameLength + length <= pool.slotSize {
                appendMergedBuffer(next, length: length, to: destination, at: frameLength)
                frameLength += length
            } else {
                oversize = true
            }
            pool.release(next.token)
        }

        if malformed || oversize {
            pool.release(slot)
            if malformed {
                virtioCounters.receiveDropsMalformed += 1
                log.debug("dropped received frame: num_buffers does not match the used buffers",
                          "device=\(name) num_buffers=\(header.numBuffers)")
            } else {
                virtioCounters.receiveDropsOversize += 1
                log.debug("dropped received frame: larger than one pool slot",
                          "device=\(name) num_buffers=\(header.numBuffers) slot_size=\(pool.slotSize)")
            }
            return nil
        }
        if bufferCount > 1 { virtioCounters.receiveMergedFrames += 1 }

        let frame = Frame(slot: slot, length: frameLength)
        guard applyChecksumFlags(header, to: pool.bytes(frame)) else {
            pool.release(slot)
            virtioCounters.receiveDropsMalformed += 1
            log.debug("dropped received frame: csum_start/csum_offset outside the frame",
                      "device=\(name) csum_start=\(header.checksumStart) csum_offset=\(header.checksumOffset) len=\(frameLength)")
            return nil
        }
        return frame
    }

    /// Copies a continuation buffer behind the frame. The device wrote it
    /// from the start of its chain: first the 12-byte header area, then the slot.
    private func appendMergedBuffer(_ buffer: VirtqUsedBuffer, length: Int,
                                    to destination: UnsafeMutableRawBufferPointer, at offset: Int) {
        let inHeaderArea = min(length, VirtioNetHeader.byteCount)
        let headerArea = receiveHeaders.base + Int(buffer.head) * Self.headerAreaStride
        (destination.baseAddress! + offset).copyMemory(from: headerArea, byteCount: inHeaderArea)
        let inSlot = length - inHeaderArea
        if inSlot > 0 {
            // Safe: `destination` is a whole slot and the caller checked
            // `offset + length <= slotSize`.
            (destination.baseAddress! + offset + inHeaderArea).copyMemory(
                from: pool.buffer(buffer.token).baseAddress!, byteCount: inSlot)
        }
    }

    /// Completes a partial checksum (NEEDS_CSUM) or counts a device-validated
    /// one (DATA_VALID). Returns false when the checksum offsets are invalid.
    ///
    /// NOTE: `Frame` has no flag to carry DATA_VALID up, so the stack still
    /// verifies those checksums itself.
    private func applyChecksumFlags(_ header: VirtioNetHeader, to bytes: UnsafeMutableRawBufferPointer) -> Bool {
        if guestChecksum && header.flags.contains(.needsChecksum) {
            guard Self.completePartialChecksum(bytes, start: Int(header.checksumStart),
                                               offset: Int(header.checksumOffset)) else { return false }
            virtioCounters.receiveChecksumsCompleted += 1
        } else if header.flags.contains(.dataValid) {
            virtioCounters.receiveChecksumsValidated += 1
        }
        return true
    }

    /// Posts a receive buffer for every free descriptor pair, each a header
    /// area and one pool slot, both device-writable (§5.1.6.3). Sends an
    /// available buffer notification when `notify` and the device wants one.
    func postReceiveBuffers(notify: Bool) {
        var added = 0
        while receiveQueue.freeCount >= Self.descriptorsPerBuffer, let head = receiveQueue.nextHead {
            guard let slot = pool.allocate() else {
                virtioCounters.receiveRefillPoolExhausted += 1
                break
            }
            let headerAddress = receiveHeaders.deviceAddress(atOffset: Int(head) * Self.headerAreaStride)
            let slotAddress = poolRegion.deviceAddress(atOffset: Int(slot) * pool.slotSize)
            let slotSize = UInt32(truncatingIfNeeded: pool.slotSize)
            receiveQueue.addChain(elementCount: Self.descriptorsPerBuffer, token: slot) { i in
                i == 0
                    ? VirtqBufferElement(address: headerAddress, length: UInt32(VirtioNetHeader.byteCount), deviceWritable: true)
                    : VirtqBufferElement(address: slotAddress, length: slotSize, deviceWritable: true)
            }
            added += 1
        }
        guard added > 0 else { return }
        receiveQueue.publish()
        if receiveQueue.needsNotification() && notify {
            transport.notify(queue: receiveQueue.index)
            virtioCounters.availableNotifications += 1
        }
    }

    /// Re-reads the link status after a configuration change notification
    /// (§5.1.4, §2.5). A device that set DEVICE_NEEDS_RESET also sends
    /// one (§2.1.2); the driver then stops, because recovering needs a reset
    /// and a new `VirtioNetDevice`.
    func applyConfigurationChange() throws {
        guard transport.takeConfigurationChange() else { return }
        let status = transport.readStatus()
        if status.contains(.deviceNeedsReset) {
            recordFailure(VirtioError(.deviceFailed,
                                      "virtio-net at \(transport.location): device set DEVICE_NEEDS_RESET (status \(status)); close and re-create the device"))
            throw failure!   // Safe: recordFailure always leaves `failure` set.
        }
        let linkUp = try Self.readLinkStatus(transport, features: negotiatedFeatures)
        guard linkUp != isLinkUp else { return }
        isLinkUp = linkUp
        virtioCounters.linkChanges += 1
        log.notice("virtio-net link \(linkUp ? "up" : "down")", "device=\(transport.location) name=\(name)")
    }
}
