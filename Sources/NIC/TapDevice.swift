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
    public private(set) var counters = DeviceCounters()
    /// The network namespace the tap lives in (`nil`: the process's own).
    public let namespace: String?
    /// Whether this device created the tap (it then disappears on `close`).
    public let createdInterface: Bool
    /// Reads kept posted to the kernel.
    public let readDepth: Int
    /// Whether the pool is registered with the ring (fixed-buffer I/O).
    public let usesRegisteredBuffers: Bool

    private var fd: Int32
    private let ring: UnsafeMutablePointer<io_uring>
    private let cqCapacity: Int
    private var postedReads = 0
    private var inflightWrites = 0
    private var unsubmitted = 0
    private var closed = false
    private var failure: DeviceError?
    /// Completed reads not yet handed to the caller, oldest first.
    private let ready: UnsafeMutablePointer<Frame>
    private var readyHead = 0
    private var readyCount = 0
    /// Per-slot owner marks: 0 caller or free, 1 posted read, 2 write in flight.
    private let kernelOwned: UnsafeMutablePointer<UInt8>
    private let cqes: UnsafeMutablePointer<UnsafeMutablePointer<io_uring_cqe>?>
    private static let cqeBatch = 64
    private var errorLogLimiter = LogRateLimiter(interval: .seconds(1), burst: 5)
    private static let log = Logger(.nic)

    private static let kindRead: UInt64 = 1
    private static let kindWrite: UInt64 = 2
    private static let kindCancel: UInt64 = 3
    private static let ethernetHeaderLength = 14

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
    ///   - readDepth: reads kept posted (1...256).
    public init(name: String, namespace: String? = nil, create: Bool = false, mtu: Int? = nil,
                macAddress: MACAddress? = nil, poolSlots: Int = 1024, readDepth: Int = 64) throws {
        guard !name.isEmpty, name.utf8.count < Int(capnet_ifnamsiz), !name.contains("/") else {
            throw DeviceError(.invalidArgument,
                              "tap device name '\(name)' is invalid: give 1 to \(capnet_ifnamsiz - 1) characters without '/'")
        }
        guard (1...256).contains(readDepth) else {
            throw DeviceError(.invalidArgument, "tap device '\(name)': readDepth \(readDepth) is out of range 1...256")
        }
        let place = namespace.map { " in network namespace '\($0)'" } ?? ""
        let nsPrefix = namespace.map { "ip netns exec \($0) " } ?? ""

        // Everything that binds to a namespace happens on the namespace's thread.
        struct Opened { var fd: Int32; var mtu: Int32; var mac: MACAddress; var created: Bool }
        let opened: Opened = try NetworkNamespace.run(in: namespace) {
            let index = capnet_if_get_index(name)
            let exists = index > 0
            if !exists && !create {
                throw DeviceError(.notFound,
                                  "tap device '\(name)' not found\(place): create it with `\(nsPrefix)ip tuntap add dev \(name) mode tap` and `\(nsPrefix)ip link set \(name) up`, or ask capnet to create it")
            }
            let fd = Glibc.open("/dev/net/tun", O_RDWR | O_CLOEXEC)
            guard fd >= 0 else {
                let err = errno
                switch err {
                case ENOENT, ENODEV, ENXIO:
                    throw DeviceError(.notFound,
                                      "cannot open /dev/net/tun for tap device '\(name)': \(errnoText(err)); load the tun module (`modprobe tun`) or create the node (`mkdir -p /dev/net && mknod /dev/net/tun c 10 200`)")
                case EACCES, EPERM:
                    throw DeviceError(.permissionDenied,
                                      "cannot open /dev/net/tun for tap device '\(name)': \(errnoText(err)); run capnet as root")
                default:
                    throw DeviceError(.ioFailure, "cannot open /dev/net/tun for tap device '\(name)': \(errnoText(err))")
                }
            }
            var ok = false
            defer { if !ok { Glibc.close(fd) } }
            let rc = capnet_tun_set_iff(fd, name, capnet_iff_tap_no_pi)
            if rc < 0 {
                throw TapDevice.attachError(name: name, place: place, nsPrefix: nsPrefix, err: -rc, creating: !exists)
            }
            if !exists {
                let up = capnet_if_set_up(name)
                if up < 0 {
                    throw DeviceError(.ioFailure, "created tap device '\(name)'\(place) but cannot bring it up: \(errnoText(-up))")
                }
            }
            let kernelMTU = capnet_if_get_mtu(name)
            guard kernelMTU > 0 else {
                throw DeviceError(.ioFailure, "cannot read the MTU of tap device '\(name)'\(place): \(errnoText(-kernelMTU))")
            }
            var hw: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0)
            let hwrc = withUnsafeMutableBytes(of: &hw) { capnet_if_get_hwaddr(name, $0.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
            guard hwrc == 0 else {
                throw DeviceError(.ioFailure, "cannot read the MAC address of tap device '\(name)'\(place): \(errnoText(-hwrc))")
            }
            ok = true
            return Opened(fd: fd, mtu: kernelMTU, mac: MACAddress(hw.0, hw.1, hw.2, hw.3, hw.4, hw.5), created: !exists)
        }
        var fdToClose: Int32? = opened.fd
        defer { if let fd = fdToClose { Glibc.close(fd) } }

        let linkMTU = mtu ?? Int(opened.mtu)
        guard (68...65535).contains(linkMTU) else {
            throw DeviceError(.invalidArgument, "tap device '\(name)': MTU \(linkMTU) is out of range 68...65535")
        }
        if let mac = macAddress {
            guard mac != opened.mac else {
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
        self.kernelMACAddress = opened.mac
        self.mtu = linkMTU
        self.readDepth = readDepth
        if let mac = macAddress {
            self.macAddress = mac
        } else {
            var generator = SystemRandomNumberGenerator()
            var mac = MACAddress.locallyAdministered(using: &generator)
            while mac == opened.mac { mac = MACAddress.locallyAdministered(using: &generator) }
            self.macAddress = mac
        }
        // A slot holds the MTU, the Ethernet header and a VLAN tag, rounded up.
        let needed = (linkMTU + TapDevice.ethernetHeaderLength + 4 + 63) / 64 * 64
        pool = FramePool(slotCount: poolSlots, slotSize: max(FramePool.defaultSlotSize, needed))

        ring = UnsafeMutablePointer<io_uring>.allocate(capacity: 1)
        ring.initialize(to: io_uring())
        var entries: UInt32 = 128
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
                           "name=\(name) ns=\(namespace ?? "-") mtu=\(linkMTU) mac=\(self.macAddress) kernel_mac=\(opened.mac) created=\(opened.created) reads=\(readDepth) fixed_buffers=\(usesRegisteredBuffers)")
    }

    deinit {
        close()
        ready.deallocate()
        kernelOwned.deallocate()
        cqes.deallocate()
        ring.deallocate()
    }

    static func attachError(name: String, place: String, nsPrefix: String, err: Int32, creating: Bool) -> DeviceError {
        switch err {
        case EPERM, EACCES:
            let what = creating ? "create" : "attach to"
            return DeviceError(.permissionDenied,
                               "cannot \(what) tap device '\(name)'\(place): permission denied (\(errnoText(err))); this needs CAP_NET_ADMIN: run capnet as root, or hand the tap to this user with `\(nsPrefix)ip tuntap add dev \(name) mode tap user USER`")
        case EBUSY:
            return DeviceError(.busy,
                               "tap device '\(name)'\(place) is busy (\(errnoText(err))): another process has it open; stop that process (`grep -l 'iff:.\(name)$' /proc/*/fdinfo/*` finds it) or use another tap")
        case EINVAL:
            return DeviceError(.invalidArgument,
                               "'\(name)'\(place) exists but is not a tap device (a tun device or another kind of interface): pick a tap, or create one with `\(nsPrefix)ip tuntap add dev NAME mode tap`")
        default:
            return DeviceError(.ioFailure, "cannot attach to tap device '\(name)'\(place): TUNSETIFF failed: \(errnoText(err))")
        }
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
        let limit = mtu + TapDevice.ethernetHeaderLength
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

    // MARK: Ring handling

    private func closedError() -> DeviceError {
        DeviceError(.ioFailure, "tap device '\(name)' is closed")
    }

    private func nextSQE() -> UnsafeMutablePointer<io_uring_sqe>? {
        if let sqe = io_uring_get_sqe(ring) { return sqe }
        _ = try? submit()
        return io_uring_get_sqe(ring)
    }

    /// Posts reads until `readDepth` are posted or waiting to be handed out.
    private func postReads() {
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

    private func submit() throws {
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
    private func waitForCompletion() throws {
        var cqe: UnsafeMutablePointer<io_uring_cqe>? = nil
        let rc = io_uring_wait_cqe(ring, &cqe)
        if rc < 0 && rc != -EINTR && rc != -EAGAIN {
            throw DeviceError(.ioFailure, "tap device '\(name)': waiting for io_uring completions failed: \(errnoText(-rc))")
        }
        reap()
    }

    /// Harvests every completion: reads join the ready queue, finished
    /// writes return their slots.
    private func reap() {
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

    private func complete(userData: UInt64, result: Int32) {
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

    private func readFailed(_ err: Int32) {
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
