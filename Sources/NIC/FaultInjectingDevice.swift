import CapnetBase

/// A wrapper that drops, duplicates, reorders and delays frames on purpose,
/// with seeded randomness and separate settings for each direction, to test
/// the stack's recovery (ARP retries, TCP retransmission and reordering).
///
/// Time comes only from the `now` passed in, so under a virtual clock the
/// faults are exactly reproducible. Delayed frames wait in a bounded queue
/// per direction; `nextDeadline` returns the time the next one is
/// due. Delayed transmit frames leave on the next `transmit` or `receive`
/// call at or after their due time, so the loop must call one of them when
/// `nextDeadline` passes (calling `receive` on every wake-up does it).
///
/// Frames that the wrapped device received but the caller's batch had no
/// room for stay in an input batch until the next `receive`.
public final class FaultInjectingDevice: FrameDevice {
    public let wrapped: FrameDevice
    public let config: FaultInjectionConfig
    private let receiveLane: FaultLane
    private let transmitLane: FaultLane
    /// Frames read from the wrapped device, not yet through the faults.
    private var input: FrameBatch
    private var inputNext = 0
    /// Frames on their way to the wrapped device's `transmit`.
    private var output: FrameBatch
    private static let log = Logger(.nic)

    /// Frames moved through the wrapped device per call in each direction.
    public static let batchCapacity = 64
    /// Mixed into the seed for the transmit generator, so the two directions
    /// draw independent streams and one direction's traffic does not change
    /// the other's faults.
    static let transmitSeedSalt: UInt64 = 0x9E37_79B9_7F4A_7C15

    public init(wrapping device: FrameDevice, config: FaultInjectionConfig) {
        wrapped = device
        self.config = config
        receiveLane = FaultLane(profile: config.receive, seed: config.seed,
                                queueLimit: config.queueLimit, reorderHold: config.reorderHold)
        transmitLane = FaultLane(profile: config.transmit, seed: config.seed ^ FaultInjectingDevice.transmitSeedSalt,
                                 queueLimit: config.queueLimit, reorderHold: config.reorderHold)
        input = FrameBatch(capacity: FaultInjectingDevice.batchCapacity)
        output = FrameBatch(capacity: FaultInjectingDevice.batchCapacity)
        FaultInjectingDevice.log.info("injecting faults", "name=\(device.name) \(FaultInjectingDevice.describe(config))")
    }

    /// Wraps `device` with faults given in the command-line form, such as
    /// `loss=0.01,dup=0.001,reorder=0.01,delay=5,seed=42`.
    public convenience init(wrapping device: FrameDevice, options: String) throws {
        self.init(wrapping: device, config: try FaultInjectionConfig(parsing: options))
    }

    public var name: String { wrapped.name }
    public var macAddress: MACAddress { wrapped.macAddress }
    public var mtu: Int { wrapped.mtu }
    public var pool: FramePool { wrapped.pool }

    /// The wrapped device's counters plus the faults injected here.
    public var counters: DeviceCounters {
        var total = wrapped.counters
        FaultInjectingDevice.add(receiveLane.injected, to: &total)
        FaultInjectingDevice.add(transmitLane.injected, to: &total)
        return total
    }

    /// Frames held for delay or reordering, both directions.
    public var heldFrameCount: Int { receiveLane.heldCount + transmitLane.heldCount }

    public var nextDeadline: Instant? {
        var earliest = min(receiveLane.earliestDue, transmitLane.earliestDue)
        if let inner = wrapped.nextDeadline { earliest = min(earliest, inner) }
        return earliest < .distantFuture ? earliest : nil
    }

    public func receive(into batch: inout FrameBatch, now: Instant) throws -> Int {
        try moveDueTransmits(now: now)
        if !output.isEmpty { try wrapped.transmit(&output, now: now) }
        let start = batch.count
        while true {
            receiveLane.drainDue(now: now, out: &batch)
            if batch.isFull { break }
            if inputNext == input.count {
                input.removeAll()
                inputNext = 0
                if try wrapped.receive(into: &input, now: now) == 0 { break }
            }
            let frame = input[inputNext]
            inputNext += 1
            receiveLane.admit(frame, now: now, pool: pool, out: &batch)
        }
        return batch.count - start
    }

    public func transmit(_ batch: inout FrameBatch, now: Instant) throws {
        try moveDueTransmits(now: now)
        for i in 0..<batch.count {
            // A frame and its duplicate need two places.
            if output.count + 2 > output.capacity { try wrapped.transmit(&output, now: now) }
            transmitLane.admit(batch[i], now: now, pool: pool, out: &output)
            try moveDueTransmits(now: now)
        }
        batch.removeAll()
        if !output.isEmpty { try wrapped.transmit(&output, now: now) }
    }

    public func wait(until deadline: Instant, now: Instant) throws {
        if inputNext < input.count { return }
        let due = min(receiveLane.earliestDue, transmitLane.earliestDue)
        if due <= now { return }
        try wrapped.wait(until: min(deadline, due), now: now)
    }

    public func close() {
        var unread = inputNext
        while unread < input.count {
            pool.release(input[unread].slot)
            unread += 1
        }
        input.removeAll()
        inputNext = 0
        receiveLane.releaseAll(to: pool)
        transmitLane.releaseAll(to: pool)
        output.releaseAll(to: pool)
        wrapped.close()
    }

    /// Moves due held transmit frames to `output`, passing it to the wrapped
    /// device whenever it fills.
    private func moveDueTransmits(now: Instant) throws {
        while transmitLane.earliestDue <= now {
            transmitLane.drainDue(now: now, out: &output)
            guard output.isFull else { break }
            try wrapped.transmit(&output, now: now)
        }
    }

    private static func add(_ injected: DeviceCounters, to total: inout DeviceCounters) {
        total.injectedDrops &+= injected.injectedDrops
        total.injectedDuplicates &+= injected.injectedDuplicates
        total.injectedReorders &+= injected.injectedReorders
        total.injectedDelays &+= injected.injectedDelays
        total.injectedQueueOverflows &+= injected.injectedQueueOverflows
    }

    static func describe(_ config: FaultInjectionConfig) -> String {
        func profile(_ p: FaultProfile) -> String {
            "loss=\(p.loss) dup=\(p.duplicate) reorder=\(p.reorder) delay=\(p.delay)"
        }
        return "rx=[\(profile(config.receive))] tx=[\(profile(config.transmit))] seed=\(config.seed) queue=\(config.queueLimit) hold=\(config.reorderHold)"
    }
}
