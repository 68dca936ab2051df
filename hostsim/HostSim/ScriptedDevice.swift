import CapnetBase
import NIC

/// An in-memory `FrameDevice` driven by a test: frames the test injects are
/// received on the next `receive`, and every transmitted frame is kept as
/// bytes for the test to inspect. Time never passes inside it: `wait` returns
/// at once, so tests advance a `VirtualTimeSource` themselves.
public final class ScriptedDevice: FrameDevice {
    public let name: String
    public let macAddress: MACAddress
    public let mtu: Int
    public let pool: FramePool
    public private(set) var counters = DeviceCounters()

    /// Injected frames not yet received.
    private var inbound: [[UInt8]] = []
    /// Transmitted frames not yet taken by the test, oldest first.
    public private(set) var transmitted: [[UInt8]] = []
    public private(set) var isClosed = false

    /// Default pool size: enough for the tests' largest bursts (a 64 KiB
    /// datagram in 45 fragments plus replies).
    public static let defaultSlotCount = 256

    public init(name: String = "scripted0", macAddress: MACAddress, mtu: Int = 1500,
                slotCount: Int = ScriptedDevice.defaultSlotCount) {
        self.name = name
        self.macAddress = macAddress
        self.mtu = mtu
        pool = FramePool(slotCount: slotCount, slotSize: max(FramePool.defaultSlotSize, mtu + 64))
    }

    /// Queues `frame` (starting at the Ethernet destination) to be received.
    public func inject(_ frame: [UInt8]) {
        inbound.append(frame)
    }

    public var pendingInbound: Int { inbound.count }

    /// Returns every frame transmitted since the last call and clears the list.
    public func takeTransmitted() -> [[UInt8]] {
        defer { transmitted.removeAll() }
        return transmitted
    }

    public func receive(into batch: inout FrameBatch, now: Instant) throws -> Int {
        var received = 0
        while !batch.isFull, !inbound.isEmpty {
            let bytes = inbound[0]
            guard bytes.count <= pool.slotSize, let slot = pool.allocate() else {
                counters.receiveDropsPoolExhausted += 1
                inbound.removeFirst()
                continue
            }
            inbound.removeFirst()
            let frame = Frame(slot: slot, length: bytes.count)
            pool.bytes(frame).copyBytes(from: bytes)
            batch.append(frame)
            counters.receivedFrames += 1
            counters.receivedBytes += UInt64(bytes.count)
            received += 1
        }
        return received
    }

    public func transmit(_ batch: inout FrameBatch, now: Instant) throws {
        for index in 0..<batch.count {
            let frame = batch[index]
            let bytes = Array(UnsafeRawBufferPointer(pool.bytes(frame)))
            if bytes.count > mtu + EthernetHeader.length {
                counters.transmitDropsOversize += 1
            } else {
                transmitted.append(bytes)
                counters.transmittedFrames += 1
                counters.transmittedBytes += UInt64(bytes.count)
            }
        }
        batch.releaseAll(to: pool)
    }

    public func wait(until deadline: Instant, now: Instant) throws {}

    public func close() {
        isClosed = true
    }
}

/// The Ethernet II header length, kept here so the device needs no NetStack import.
enum EthernetHeader {
    static let length = 14
}
