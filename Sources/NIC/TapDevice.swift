import CapnetBase
import CURing
#if canImport(Glibc)
import Glibc
#endif

/// A Linux tap device (`IFF_TAP | IFF_NO_PI`) driven through io_uring.
///
/// Receiving: the device keeps up to `readDepth` read requests posted, each
/// into its own pool slot; `receive` harvests their completions and posts new
/// reads. Transmitting: one write request per frame, straight from the
/// frame's slot; the slot returns to the pool when the write completes. When
/// the pool's memory can be registered with the ring, reads and writes use
/// the fixed-buffer variants. Nothing is allocated per frame.
///
/// The stack's own MAC address (`macAddress`) is distinct from the kernel
/// side's (`kernelMACAddress`): the kernel and the stack are two hosts on the
/// tap's link.
public final class TapDevice: FrameDevice {
    public let name: String
    public let macAddress: MACAddress
    /// The address of the kernel's end of the tap (`ip link show NAME`).
    public let kernelMACAddress: MACAddress
    public let mtu: Int
    public let pool: FramePool
    public internal(set) var counters = DeviceCounters()
    /// The network namespace the tap lives in (`nil`: the process's own).
    public let namespace: String?
    /// Whether this device created the tap (it then disappears on `close`).
    public let createdInterface: Bool
    /// Reads kept posted to the kernel.
    public let readDepth: Int
    /// Whether the pool is registered with the ring (fixed-buffer I/O).
    public let usesRegisteredBuffers: Bool

    var fd: Int32
    let ring: UnsafeMutablePointer<io_uring>
    let cqCapacity: Int
    var postedReads = 0
    var inflightWrites = 0
    var unsubmitted = 0
    var closed = false
    var failure: DeviceError?
    /// Completed reads not yet handed to the caller, oldest first.
    let ready: UnsafeMutablePointer<Frame>
    var readyHead = 0
    var readyCount = 0
    /// Per-slot owner marks: 0 caller or free, 1 posted read, 2 write in flight.
    let kernelOwned: UnsafeMutablePointer<UInt8>
    let cqes: UnsafeMutablePointer<UnsafeMutablePointer<io_uring_cqe>?>
    static let cqeBatch = 64
    var errorLogLimiter = LogRateLimiter(interval: .seconds(1), burst: 5)
    static let log = Logger(.nic)

    // Request kinds, in the high 32 bits of each request's user_data.
    static let kindRead: UInt64 = 1
    static let kindWrite: UInt64 = 2
    static let kindCancel: UInt64 = 3

    /// The range of `readDepth`, the reads kept posted.
    public static let readDepthRange = 1...256
    /// The smallest submission queue. The ring doubles it until it has room
    /// for twice `readDepth`, so writes always find submission entries; the
    /// completion queue is twice as large (io_uring_setup(2)).
    static let minimumRingEntries: UInt32 = 128

    /// Opens the tap device `name`.
    ///
    /// - Parameters:
    ///   - name: the interface name, such as `tap0` (at most 15 bytes).
    ///   - namespace: a network namespace from `ip netns list` to open the
    ///     tap in; `nil` for the process's own namespace.
    ///   - create: create the tap when it does not exist (it is then removed
    ///     when the device closes) and bring its link up. When false, a
    ///     missing tap is an error.
    ///   - mtu: the MTU to use; `nil` reads the interface's (SIOCGIFMTU).
    ///   - macAddress: the stack's MAC; `nil` picks a random locally
    ///     administered one that differs from the kernel side's.
    ///   - poolSlots: frames in the device's pool.
    ///   - readDepth: reads kept posted (`readDepthRange`).
    public init(name: String, namespace: String? = nil, create: Bool = false, mtu: Int? = nil,
                macAddress: MACAddress? = nil, poolSlots: Int = 1024, readDepth: Int = 64) throws {
        guard !name.isEmpty, name.utf8.count < Int(capnet_ifnamsiz), !name.contains("/") else {
            throw DeviceError(.invalidArgument,
                              "tap device name '\(name)' is invalid: give 1 to \(capnet_ifnamsiz - 1) characters without '/'")
        }
        guard TapDevice.readDepthRange.contains(readDepth) else {
            throw DeviceError(.invalidArgument,
                              "tap device '\(name)': readDepth \(readDepth) is out of range \(TapDevice.readDepthRange)")
        }
        let place = namespace.map { " in network namespace '\($0)'" } ?? ""
        let nsPrefix = namespace.map { "ip netns exec \($0) " } ?? ""

        // Everything that binds to a namespace happens on the namespace's thread.
        let opened = try NetworkNamespace.run(in: namespace) {
            try TapDevice.openTap(name: name, create: create, place: place, nsPrefix: nsPrefix)
        }
        var fdToClose: Int32? = opened.fd
        defer { if let fd = fdToClose { Glibc.close(fd) } }

        let linkMTU = mtu ?? opened.link.mtu
        guard LinkInfo.mtuRange.contains(linkMTU) else {
            throw DeviceError(.invalidArgument, "tap device '\(name)': MTU \(linkMTU) is out of range \(LinkInfo.mtuRange)")
        }
        if let mac = macAddress {
            guard mac != opened.link.macAddress else {
                throw DeviceError(.invalidArgument,
                                  "tap device '\(name)': the stack's MAC \(mac) equals the kernel side's; pick another address or omit it for a random one")
            }
            guard !mac.isMulticast else {
                throw DeviceError(.invalidArgument, "tap device '\(name)': the stack's MAC \(mac) is a group address; give a unicast one")
            }
        }
        guard poolSlots > readDepth else {
            throw DeviceError(.invalidArgument,
                              "tap device '\(name)': poolSlots \(poolSlots) must exceed readDepth \(readDepth)")
        }

        self.name = name
        self.namespace = namespace
        self.createdInterface = opened.created
        self.kernelMACAddress = opened.link.macAddress
        self.mtu = linkMTU
        self.readDepth = readDepth
        if let mac = macAddress {
            self.macAddress = mac
        } else {
            var generator = SystemRandomNumberGenerator()
            var mac = MACAddress.locallyAdministered(using: &generator)
            while mac == opened.link.macAddress { mac = MACAddress.locallyAdministered(using: &generator) }
            self.macAddress = mac
        }
        // A slot has room for the MTU, the Ethernet header and a VLAN tag, rounded up.
        pool = FramePool(slotCount: poolSlots, slotSize: LinkInfo.slotSize(mtu: linkMTU))

        ring = UnsafeMutablePointer<io_uring>.allocate(capacity: 1)
        ring.initialize(to: io_uring())
        var entries = TapDevice.minimumRingEntries
        while entries < UInt32(readDepth * 2) { entries *= 2 }
        let initrc = io_uring_queue_init(entries, ring, 0)
        guard initrc == 0 else {
            ring.deallocate()
            let err = -initrc
            let hint: String
            switch err {
            case ENOSYS: hint = "this kernel has no io_uring"
            case EPERM: hint = "io_uring is disabled for this process; check /proc/sys/kernel/io_uring_disabled (0 allows it) and seccomp/container policy"
            case ENOMEM: hint = "raise the locked-memory limit (ulimit -l) or lower readDepth"
            default: hint = "check io_uring support"
            }
            throw DeviceError(.ioFailure, "tap device '\(name)': cannot set up io_uring: \(errnoText(err)); \(hint)")
        }
        cqCapacity = Int(ring.pointee.cq.ring_entries)

        var iov = iovec(iov_base: pool.base, iov_len: pool.slotSize * pool.slotCount)
        usesRegisteredBuffers = io_uring_register_buffers(ring, &iov, 1) == 0

        ready = .allocate(capacity: readDepth)
        kernelOwned = .allocate(capacity: poolSlots)
        kernelOwned.initialize(repeating: 0, count: poolSlots)
        cqes = .allocate(capacity: TapDevice.cqeBatch)
        cqes.initialize(repeating: nil, count: TapDevice.cqeBatch)
        fd = opened.fd
        fdToClose = nil

        postReads()
        try submit()
        TapDevice.log.info("opened tap device",
                           "name=\(name) ns=\(namespace ?? "-") mtu=\(linkMTU) mac=\(self.macAddress) kernel_mac=\(opened.link.macAddress) created=\(opened.created) reads=\(readDepth) fixed_buffers=\(usesRegisteredBuffers)")
    }

    deinit {
        close()
        ready.deallocate()
        kernelOwned.deallocate()
        cqes.deallocate()
        ring.deallocate()
    }

    // MARK: FrameDevice

    public func receive(into batch: inout FrameBatch, now: Instant) throws -> Int {
        guard !closed else { throw closedError() }
        var appended = 0
        for round in 0..<2 {
            reap()
            while !batch.isFull && readyCount > 0 {
                let frame = ready[readyHead]
                readyHead = (readyHead + 1) % readDepth
                readyCount -= 1
                batch.append(frame)
                counters.receivedFrames &+= 1
                counters.receivedBytes &+= UInt64(frame.length)
                appended += 1
            }
            postReads()
            try submit()
            // Data already queued in the tap completes the new reads at once.
            if round == 0 && (batch.isFull || io_uring_cq_ready(ring) == 0) { break }
        }
        if appended == 0, let failure { throw failure }
        return appended
    }

    public func transmit(_ batch: inout FrameBatch, now: Instant) throws {
        guard !closed else {
            counters.transmitDropsError &+= UInt64(batch.count)
            batch.releaseAll(to: pool)
            throw closedError()
        }
        let limit = mtu + LinkInfo.ethernetHeaderLength
        for i in 0..<batch.count {
            let frame = batch[i]
            if Int(frame.length) > limit || frame.length <= 0 {
                if frame.length > 0 { counters.transmitDropsOversize &+= 1 } else { counters.transmitDropsError &+= 1 }
                pool.release(frame.slot)
                continue
            }
            // Keep every request's completion within the completion queue.
            while postedReads + inflightWrites >= cqCapacity {
                try submit()
                try waitForCompletion()
            }
            guard let sqe = nextSQE() else {
                counters.transmitDropsError &+= 1
                pool.release(frame.slot)
                continue
            }
            let address = pool.base + Int(frame.slot) * pool.slotSize
            if usesRegisteredBuffers {
                io_uring_prep_write_fixed(sqe, fd, address, UInt32(frame.length), 0, 0)
            } else {
                io_uring_prep_write(sqe, fd, address, UInt32(frame.length), 0)
            }
            io_uring_sqe_set_data64(sqe, TapDevice.kindWrite << 32 | UInt64(UInt32(bitPattern: frame.slot)))
            kernelOwned[Int(frame.slot)] = 2
            inflightWrites += 1
            unsubmitted += 1
        }
        batch.removeAll()
        try submit()
        reap()
    }

    public func wait(until deadline: Instant, now: Instant) throws {
        guard !closed else { return }
        if readyCount > 0 || failure != nil { return }
        try submit()
        reap()
        if readyCount > 0 { return }
        var current = now
        while readyCount == 0 && failure == nil {
            let remaining = deadline - current
            if remaining.value <= 0 { return }
            var cqe: UnsafeMutablePointer<io_uring_cqe>? = nil
            let rc: Int32
            if deadline >= Instant.distantFuture {
                rc = io_uring_wait_cqe(ring, &cqe)
            } else {
                var ts = __kernel_timespec(tv_sec: remaining.value / 1_000_000_000,
                                           tv_nsec: remaining.value % 1_000_000_000)
                rc = io_uring_wait_cqe_timeout(ring, &cqe, &ts)
            }
            if rc == -ETIME { return }
            if rc < 0 && rc != -EINTR && rc != -EAGAIN {
                throw DeviceError(.ioFailure, "tap device '\(name)': waiting for io_uring completions failed: \(errnoText(-rc))")
            }
            reap()
            current = TapDevice.monotonicNow()
        }
    }

    public func close() {
        guard !closed else { return }
        closed = true
        if postedReads + inflightWrites > 0 {
            if let sqe = nextSQE() {
                io_uring_prep_cancel64(sqe, 0, Int32(IORING_ASYNC_CANCEL_ANY))
                io_uring_sqe_set_data64(sqe, TapDevice.kindCancel << 32)
                unsubmitted += 1
            }
            _ = try? submit()
            let giveUp = TapDevice.monotonicNow() + .seconds(1)
            while postedReads + inflightWrites > 0 && TapDevice.monotonicNow() < giveUp {
                var cqe: UnsafeMutablePointer<io_uring_cqe>? = nil
                var ts = __kernel_timespec(tv_sec: 0, tv_nsec: 50_000_000)
                _ = io_uring_wait_cqe_timeout(ring, &cqe, &ts)
                reap()
            }
        }
        while readyCount > 0 {
            pool.release(ready[readyHead].slot)
            readyHead = (readyHead + 1) % readDepth
            readyCount -= 1
        }
        if postedReads + inflightWrites > 0 {
            TapDevice.log.warning("closing tap device with requests still in flight",
                                  "name=\(name) reads=\(postedReads) writes=\(inflightWrites)")
        }
        io_uring_queue_exit(ring)
        Glibc.close(fd)
        fd = -1
        TapDevice.log.info("closed tap device", "name=\(name)")
    }
}
