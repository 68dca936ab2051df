import CapnetBase
#if canImport(Glibc)
import Glibc
#endif

/// One end of an in-memory Ethernet link, for NetStack tests and the
/// simulator: what one end transmits, the other end receives.
///
/// Each end has its own pool. `transmit` copies every frame into a slot of
/// the peer's pool and appends it to the peer's receive queue, which keeps at
/// most `queueCapacity` frames. A frame that finds the queue full or the
/// peer's pool empty is dropped and counted on the peer. Nothing is
/// allocated per frame.
///
/// Both ends are driven from one thread (the simulator's loop). `wait` never
/// blocks unless `waitSleeps` is set, because a simulator advances virtual
/// time itself.
public final class MemoryLinkDevice: FrameDevice {
    public let name: String
    public let macAddress: MACAddress
    public let mtu: Int
    public let pool: FramePool
    public private(set) var counters = DeviceCounters()
    /// The maximum frames in the receive queue.
    public let queueCapacity: Int
    /// When false, `transmit` drops every frame (counted as
    /// `transmitDropsError`), as on a link whose cable is pulled.
    public var isLinkUp = true
    /// Whether `wait` sleeps (real time) until its deadline when no frame is
    /// queued. Off by default: under a virtual clock a sleep only slows tests.
    public var waitSleeps = false

    /// The other end. Weak, so a pair does not keep itself alive.
    public private(set) weak var peer: MemoryLinkDevice?

    private let queue: UnsafeMutablePointer<Frame>
    private var queueHead = 0
    public private(set) var queuedFrameCount = 0
    public private(set) var isClosed = false

    /// Locally administered addresses used when a pair is made without MACs.
    public static let defaultMACAddresses = (MACAddress(0x02, 0, 0, 0, 0, 0x01), MACAddress(0x02, 0, 0, 0, 0, 0x02))
    public static let defaultQueueCapacity = 256
    public static let defaultPoolSlots = 512

    /// Makes two connected ends.
    ///
    /// - Parameters:
    ///   - names: the ends' names for logs.
    ///   - macAddresses: the ends' MACs (default 02:00:00:00:00:01 and :02).
    ///   - mtu: the link MTU, the same for both ends.
    ///   - poolSlots: frames in each end's pool.
    ///   - queueCapacity: the maximum frames in each end's receive queue.
    public static func makePair(names: (String, String) = ("mem0", "mem1"),
                                macAddresses: (MACAddress, MACAddress) = MemoryLinkDevice.defaultMACAddresses,
                                mtu: Int = 1500, poolSlots: Int = MemoryLinkDevice.defaultPoolSlots,
                                queueCapacity: Int = MemoryLinkDevice.defaultQueueCapacity) -> (MemoryLinkDevice, MemoryLinkDevice) {
        let a = MemoryLinkDevice(name: names.0, macAddress: macAddresses.0, mtu: mtu,
                                 poolSlots: poolSlots, queueCapacity: queueCapacity)
        let b = MemoryLinkDevice(name: names.1, macAddress: macAddresses.1, mtu: mtu,
                                 poolSlots: poolSlots, queueCapacity: queueCapacity)
        a.peer = b
        b.peer = a
        return (a, b)
    }

    private init(name: String, macAddress: MACAddress, mtu: Int, poolSlots: Int, queueCapacity: Int) {
        precondition(queueCapacity > 0, "queueCapacity must be positive: \(queueCapacity)")
        precondition(LinkInfo.mtuRange.contains(mtu), "mtu out of range \(LinkInfo.mtuRange): \(mtu)")
        self.name = name
        self.macAddress = macAddress
        self.mtu = mtu
        self.queueCapacity = queueCapacity
        pool = FramePool(slotCount: poolSlots, slotSize: LinkInfo.slotSize(mtu: mtu))
        queue = .allocate(capacity: queueCapacity)
    }

    deinit {
        queue.deallocate()
    }

    /// Takes a copy of `frame` (a slot of the sender's `source` pool) into
    /// this end's queue, or counts why not.
    fileprivate func deliver(_ frame: Frame, from source: FramePool) {
        guard queuedFrameCount < queueCapacity else {
            counters.receiveDropsQueueFull &+= 1
            return
        }
        guard Int(frame.length) <= pool.slotSize else {
            counters.receiveDropsOversize &+= 1
            return
        }
        guard let slot = pool.allocate() else {
            counters.receiveDropsPoolExhausted &+= 1
            return
        }
        pool.buffer(slot).baseAddress!.copyMemory(from: source.bytes(frame).baseAddress!, byteCount: Int(frame.length))
        queue[(queueHead + queuedFrameCount) % queueCapacity] = Frame(slot: slot, length: Int(frame.length))
        queuedFrameCount += 1
    }

    // MARK: FrameDevice

    public func receive(into batch: inout FrameBatch, now: Instant) throws -> Int {
        var appended = 0
        while !batch.isFull && queuedFrameCount > 0 {
            let frame = queue[queueHead]
            queueHead = (queueHead + 1) % queueCapacity
            queuedFrameCount -= 1
            batch.append(frame)
            counters.receivedFrames &+= 1
            counters.receivedBytes &+= UInt64(frame.length)
            appended += 1
        }
        return appended
    }

    public func transmit(_ batch: inout FrameBatch, now: Instant) throws {
        let limit = mtu + LinkInfo.ethernetHeaderLength
        for i in 0..<batch.count {
            let frame = batch[i]
            if Int(frame.length) > limit {
                counters.transmitDropsOversize &+= 1
            } else if let peer, isLinkUp, !peer.isClosed, !isClosed {
                peer.deliver(frame, from: pool)
                counters.transmittedFrames &+= 1
                counters.transmittedBytes &+= UInt64(frame.length)
            } else {
                counters.transmitDropsError &+= 1
            }
        }
        batch.releaseAll(to: pool)
    }

    public func wait(until deadline: Instant, now: Instant) throws {
        guard waitSleeps, queuedFrameCount == 0, deadline < Instant.distantFuture else { return }
        let remaining = deadline - now
        guard remaining.value > 0 else { return }
        var span = timespec(tv_sec: Int(remaining.value / 1_000_000_000), tv_nsec: Int(remaining.value % 1_000_000_000))
        _ = nanosleep(&span, nil)
    }

    /// Releases the queued frames. Afterwards both ends drop what they
    /// transmit (counted as `transmitDropsError`), as if the cable were cut.
    public func close() {
        isClosed = true
        while queuedFrameCount > 0 {
            pool.release(queue[queueHead].slot)
            queueHead = (queueHead + 1) % queueCapacity
            queuedFrameCount -= 1
        }
    }
}
