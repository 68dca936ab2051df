import CapnetBase
import NIC

/// Moves a fixed number of Ethernet frames each way between two connected
/// `FrameDevice` ends, in batches, and times it.
///
/// Each round, each end fills one batch from its own pool and transmits it.
/// Then `step` lets the link carry the frames: the simulated devices do
/// their work, and an in-memory pair needs nothing. Last, each end receives
/// what arrived, checks the length and the sequence number, and releases
/// the slots. The run ends when every frame arrived or at `deadline`,
/// whichever comes first.
struct FramePump {
    struct Result {
        /// Frames received by both ends together.
        var received = 0
        /// Frames sent by both ends together.
        var sent = 0
        /// Received frames whose length or sequence number was wrong.
        var corrupted = 0
        var elapsed = Nanoseconds.zero
        var timedOut = false

        /// Frames per second, both directions together.
        var framesPerSecond: Double { elapsed.value > 0 ? Double(received) / elapsed.seconds : 0 }
    }

    /// Bytes from the start of a frame to its 32-bit sequence number: the
    /// Ethernet destination, source and EtherType.
    static let sequenceOffset = 14
    /// The IEEE 802 local experimental EtherType 0x88B5, so no stack would
    /// take the frames for its own.
    static let experimentalEtherType: [UInt8] = [0x88, 0xB5]

    let a: FrameDevice
    let b: FrameDevice
    let step: () -> Void
    let frameLength: Int
    let batchSize: Int

    func run(framesEachWay: Int, deadline: Nanoseconds, clock: MonotonicTimeSource) throws -> Result {
        var result = Result()
        var nextToSend = (0, 0)
        var nextExpected = (0, 0)
        var batch = FrameBatch(capacity: batchSize)
        let started = clock.now()
        let stopAt = started + deadline
        while nextExpected.0 < framesEachWay || nextExpected.1 < framesEachWay {
            if clock.now() >= stopAt {
                result.timedOut = true
                break
            }
            nextToSend.0 = try send(from: a, next: nextToSend.0, limit: framesEachWay, batch: &batch, result: &result)
            nextToSend.1 = try send(from: b, next: nextToSend.1, limit: framesEachWay, batch: &batch, result: &result)
            step()
            let receivedBefore = result.received
            nextExpected.1 = try receive(on: b, expected: nextExpected.1, batch: &batch, result: &result)
            nextExpected.0 = try receive(on: a, expected: nextExpected.0, batch: &batch, result: &result)
            // `step` carries every frame sent, so a round with all frames
            // sent and none received means the rest were lost.
            if nextToSend == (framesEachWay, framesEachWay) && result.received == receivedBefore { break }
        }
        result.elapsed = clock.now() - started
        return result
    }

    private func send(from device: FrameDevice, next: Int, limit: Int,
                      batch: inout FrameBatch, result: inout Result) throws -> Int {
        var sequence = next
        while sequence < limit && !batch.isFull, let slot = device.pool.allocate() {
            let buffer = device.pool.buffer(slot)
            // Broadcast destination and source bytes. The payload after the
            // sequence number keeps whatever the slot held.
            for i in 0..<Self.sequenceOffset - Self.experimentalEtherType.count { buffer[i] = 0xFF }
            buffer[12] = Self.experimentalEtherType[0]
            buffer[13] = Self.experimentalEtherType[1]
            buffer.storeBytes(of: UInt32(truncatingIfNeeded: sequence).bigEndian,
                              toByteOffset: Self.sequenceOffset, as: UInt32.self)
            _ = batch.append(Frame(slot: slot, length: frameLength))
            sequence += 1
        }
        result.sent += sequence - next
        try device.transmit(&batch, now: .zero)
        return sequence
    }

    private func receive(on device: FrameDevice, expected: Int,
                         batch: inout FrameBatch, result: inout Result) throws -> Int {
        var next = expected
        while try device.receive(into: &batch, now: .zero) > 0 {
            for i in 0..<batch.count {
                let bytes = device.pool.bytes(batch[i])
                let sequence = Int(UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: Self.sequenceOffset, as: UInt32.self)))
                if bytes.count != frameLength || sequence != next { result.corrupted += 1 }
                next = sequence + 1
                result.received += 1
            }
            batch.releaseAll(to: device.pool)
        }
        return next
    }
}
