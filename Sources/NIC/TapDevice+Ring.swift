import CapnetBase
import CURing
#if canImport(Glibc)
import Glibc
#endif

// The io_uring side of TapDevice. Every request carries its kind and pool
// slot in `user_data` (kind in the high 32 bits), so a completion needs no
// lookup. Reads plus writes in flight never exceed the completion queue's
// size (`cqCapacity`), so no completion can overflow it.
extension TapDevice {
    func closedError() -> DeviceError {
        DeviceError(.ioFailure, "tap device '\(name)' is closed")
    }

    func nextSQE() -> UnsafeMutablePointer<io_uring_sqe>? {
        if let sqe = io_uring_get_sqe(ring) { return sqe }
        _ = try? submit()
        return io_uring_get_sqe(ring)
    }

    /// Posts reads until `readDepth` are posted or waiting to be handed out.
    func postReads() {
        while failure == nil && postedReads + readyCount < readDepth {
            guard let slot = pool.allocate() else { return }
            guard let sqe = nextSQE() else {
                pool.release(slot)
                return
            }
            let address = pool.base + Int(slot) * pool.slotSize
            if usesRegisteredBuffers {
                io_uring_prep_read_fixed(sqe, fd, address, UInt32(pool.slotSize), 0, 0)
            } else {
                io_uring_prep_read(sqe, fd, address, UInt32(pool.slotSize), 0)
            }
            io_uring_sqe_set_data64(sqe, TapDevice.kindRead << 32 | UInt64(UInt32(bitPattern: slot)))
            kernelOwned[Int(slot)] = 1
            postedReads += 1
            unsubmitted += 1
        }
    }

    func submit() throws {
        guard unsubmitted > 0 else { return }
        while true {
            let rc = io_uring_submit(ring)
            if rc >= 0 {
                unsubmitted = max(0, unsubmitted - Int(rc))
                return
            }
            if rc == -EINTR { continue }
            if rc == -EAGAIN || rc == -EBUSY { return }  // retried on the next call
            throw DeviceError(.ioFailure, "tap device '\(name)': io_uring submit failed: \(errnoText(-rc))")
        }
    }

    /// Blocks until at least one completion arrives, then harvests.
    func waitForCompletion() throws {
        var cqe: UnsafeMutablePointer<io_uring_cqe>? = nil
        let rc = io_uring_wait_cqe(ring, &cqe)
        if rc < 0 && rc != -EINTR && rc != -EAGAIN {
            throw DeviceError(.ioFailure, "tap device '\(name)': waiting for io_uring completions failed: \(errnoText(-rc))")
        }
        reap()
    }

    /// Harvests every completion: reads join the ready queue, finished
    /// writes return their slots.
    func reap() {
        while true {
            let n = Int(io_uring_peek_batch_cqe(ring, cqes, UInt32(TapDevice.cqeBatch)))
            if n == 0 { return }
            for i in 0..<n {
                let cqe = cqes[i]!
                complete(userData: cqe.pointee.user_data, result: cqe.pointee.res)
            }
            io_uring_cq_advance(ring, UInt32(n))
        }
    }

    func complete(userData: UInt64, result: Int32) {
        if userData == capnet_udata_timeout { return }
        let kind = userData >> 32
        let slot = Int32(bitPattern: UInt32(truncatingIfNeeded: userData))
        switch kind {
        case TapDevice.kindRead:
            postedReads -= 1
            kernelOwned[Int(slot)] = 0
            if result > 0 && Int(result) <= pool.slotSize {
                let tail = (readyHead + readyCount) % readDepth
                ready[tail] = Frame(slot: slot, length: Int(result))
                readyCount += 1
            } else {
                pool.release(slot)
                if result < 0 { readFailed(-result) }
            }
        case TapDevice.kindWrite:
            inflightWrites -= 1
            kernelOwned[Int(slot)] = 0
            pool.release(slot)
            if result >= 0 {
                counters.transmittedFrames &+= 1
                counters.transmittedBytes &+= UInt64(result)
            } else {
                counters.transmitDropsError &+= 1
                if errorLogLimiter.allow(now: TapDevice.monotonicNow()) {
                    TapDevice.log.warning("tap write failed", "name=\(name) error=\(errnoText(-result))")
                }
            }
        default:
            break
        }
    }

    func readFailed(_ err: Int32) {
        if err == ECANCELED || err == EINTR || err == EAGAIN { return }
        if err == EBADFD || err == EIO || err == ENODEV {
            if failure == nil {
                failure = DeviceError(.ioFailure,
                                      "tap device '\(name)' stopped delivering frames: \(errnoText(err)); the interface was probably deleted; recreate it and restart capnet")
                TapDevice.log.error("tap read failed", "name=\(name) error=\(errnoText(err))")
            }
            return
        }
        if errorLogLimiter.allow(now: TapDevice.monotonicNow()) {
            TapDevice.log.warning("tap read failed", "name=\(name) error=\(errnoText(err))")
        }
    }

    static func monotonicNow() -> Instant {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Instant(nanoseconds: Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec))
    }
}
