import CapnetBase

/// A network device that moves Ethernet frames in batches.
///
/// Ownership: every `Frame` lives in a slot of the device's `pool`.
/// `receive` appends frames whose slots now belong to the caller, who releases
/// them when done. `transmit` takes ownership of every frame in the batch
/// (sent, dropped or queued) and empties it; the device releases the slots
/// once the hardware or kernel no longer needs them. Wrappers (capture, fault
/// injection) share the wrapped device's pool.
///
/// A device is used from one thread, the stack's run loop.
public protocol FrameDevice: AnyObject {
    /// A short name for logs and the Web UI, such as `tap0`.
    var name: String { get }
    var macAddress: MACAddress { get }
    /// The largest IP packet (Ethernet payload) the link carries, in bytes.
    var mtu: Int { get }
    var pool: FramePool { get }
    var counters: DeviceCounters { get }

    /// Appends up to `batch.capacity - batch.count` received frames without
    /// blocking. Returns the number appended.
    func receive(into batch: inout FrameBatch, now: Instant) throws -> Int

    /// Sends every frame in `batch` (or counts it dropped) and empties it.
    func transmit(_ batch: inout FrameBatch, now: Instant) throws

    /// Blocks until a frame may be available or until `deadline` passes
    /// (monotonic clock). Returns at once if frames are already waiting.
    func wait(until deadline: Instant, now: Instant) throws

    /// The earliest time the device itself needs to be polled, such as a
    /// delayed frame's release in the fault injector; `nil` when never.
    var nextDeadline: Instant? { get }

    /// Flushes buffered output (captures) and releases OS resources. Called
    /// once at shutdown; the device is unusable afterwards.
    func close()
}

extension FrameDevice {
    public var nextDeadline: Instant? { nil }
}

/// Counters every device keeps, shown in metrics and the Web UI.
public struct DeviceCounters: Sendable, Equatable {
    public var receivedFrames: UInt64 = 0
    public var receivedBytes: UInt64 = 0
    public var transmittedFrames: UInt64 = 0
    public var transmittedBytes: UInt64 = 0
    /// Frames the device could not take because no pool slot was free.
    public var receiveDropsPoolExhausted: UInt64 = 0
    /// Received frames longer than a pool slot (or truncated by the
    /// capture length), dropped.
    public var receiveDropsOversize: UInt64 = 0
    /// Frames larger than the MTU plus the Ethernet header, not sent.
    public var transmitDropsOversize: UInt64 = 0
    /// Frames the OS refused to send (full queue, link down).
    public var transmitDropsError: UInt64 = 0
    /// Frames dropped on purpose by a fault injector, in either direction.
    public var injectedDrops: UInt64 = 0
    public var injectedDuplicates: UInt64 = 0
    public var injectedReorders: UInt64 = 0
    public var injectedDelays: UInt64 = 0
    /// Frames a fault injector dropped because its bounded delay/reorder
    /// queue was full (`FaultInjectionConfig.queueLimit`).
    public var injectedQueueOverflows: UInt64 = 0
    /// Frames an in-memory link dropped because the receiving end's bounded
    /// queue was full (`MemoryLinkDevice.queueCapacity`).
    public var receiveDropsQueueFull: UInt64 = 0

    public init() {}
}

/// A device error that says what failed, on which device, and what to do.
public struct DeviceError: Error, CustomStringConvertible, Sendable {
    public enum Code: Sendable, Equatable {
        case notFound, permissionDenied, busy, invalidArgument, ioFailure
    }
    public let code: Code
    public let description: String

    public init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }
}
