import CapnetBase
import HostSim
import NIC
import Testing

/// A virtio-net driver on a simulated device, with helpers to move frames.
struct NetFixture {
    let sim: SimulatedVirtioNetDevice
    let pool: FramePool
    let driver: VirtioNetDevice

    static let slotCount = 512

    init(options: SimulatedVirtioNetDevice.Options = .init(),
         features: VirtioFeatures = VirtioNetDevice.supportedFeatures, slotCount: Int = NetFixture.slotCount) throws {
        sim = SimulatedVirtioNetDevice(options: options)
        pool = FramePool(slotCount: slotCount)
        driver = try VirtioNetDevice(transport: sim, pool: pool,
                                     configuration: .init(name: "virtio-test", features: features))
    }

    /// Receive buffers posted: one per two descriptors of the receive queue.
    var postedReceiveBuffers: Int { min(sim.options.maxQueueSize, VirtioNetDevice.defaultMaxQueueSize) / 2 }

    /// Copies `frames` into pool slots and transmits them in one batch.
    func send(_ frames: [[UInt8]]) throws {
        var batch = FrameBatch(capacity: max(frames.count, 1))
        for bytes in frames {
            let slot = try #require(pool.allocate())
            let buffer = pool.buffer(slot)
            buffer.copyBytes(from: bytes)
            batch.append(Frame(slot: slot, length: bytes.count))
        }
        try driver.transmit(&batch, now: .zero)
        let emptied = batch.isEmpty
        #expect(emptied)
    }

    /// Receives every waiting frame, copies it out and releases its slot.
    func receiveAll() throws -> [[UInt8]] {
        var frames: [[UInt8]] = []
        var batch = FrameBatch(capacity: 32)
        while try driver.receive(into: &batch, now: .zero) > 0 {
            for i in 0..<batch.count { frames.append(Array(pool.bytes(batch[i]))) }
            batch.releaseAll(to: pool)
        }
        return frames
    }
}

/// A test frame: broadcast destination, a locally administered source, the
/// IEEE 802 local experimental EtherType 0x88B5, then a 32-bit sequence
/// number and a byte pattern derived from it, `length` bytes in all.
func testFrame(sequence: Int, length: Int) -> [UInt8] {
    var bytes: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x88, 0xB5]
    for shift in [24, 16, 8, 0] { bytes.append(UInt8(truncatingIfNeeded: sequence >> shift)) }
    while bytes.count < length { bytes.append(UInt8(truncatingIfNeeded: bytes.count &+ sequence)) }
    return Array(bytes.prefix(length))
}

/// Returns the sequence number `testFrame` wrote, or nil for a short frame.
func sequenceNumber(of frame: [UInt8]) -> Int? {
    guard frame.count >= 18 else { return nil }
    return frame[14..<18].reduce(0) { $0 << 8 | Int($1) }
}
