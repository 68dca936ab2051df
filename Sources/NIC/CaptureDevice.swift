import CapnetBase

/// A wrapper that records every frame the wrapped device receives and every
/// frame handed to it for transmission, with wall-clock timestamps in
/// nanoseconds.
///
/// The format follows the file name: `.pcap` is written through libpcap's
/// dump API, `.pcapng` by `PcapNGWriter`, which also marks each frame's
/// direction and can embed TLS key logs (`appendTLSKeyLog`). The file is
/// flushed after every batch. A write error is logged and counted in
/// `writeErrors`, and the frames still flow: a full disk does not stop the
/// network.
///
/// NOTE: the writes happen on the run loop (one `write(2)` per batch into
/// the page cache), not on a separate thread.
public final class CaptureDevice: FrameDevice {
    public enum Format: Sendable, Equatable {
        case pcap, pcapng

        /// The format for a file name's extension, or nil for another one.
        public init?(path: String) {
            let lower = path.lowercased()
            if lower.hasSuffix(".pcapng") {
                self = .pcapng
            } else if lower.hasSuffix(".pcap") {
                self = .pcap
            } else {
                return nil
            }
        }
    }

    public let wrapped: FrameDevice
    public let path: String
    public let format: Format
    /// Frames written to the file, both directions.
    public private(set) var capturedFrames: UInt64 = 0
    /// Failed writes to the file (frames or flushes).
    public private(set) var writeErrors: UInt64 = 0

    private var pcapng: PcapNGWriter?
    private var pcap: PcapDumpWriter?
    private var errorLogLimiter = LogRateLimiter(interval: .seconds(10), burst: 1)
    /// The buffer position of a received batch held back for the TLS secrets
    /// that processing it may produce (see `appendTLSKeyLog`).
    private var inboundMark: (position: Int, flushCount: Int)?
    private static let log = Logger(.nic)

    /// Wraps `device` and creates (or truncates) the capture file `path`,
    /// whose extension picks the format.
    public init(wrapping device: FrameDevice, path: String) throws {
        guard let format = Format(path: path) else {
            throw DeviceError(.invalidArgument,
                              "capture file '\(path)' has an unknown extension: use .pcap or .pcapng")
        }
        wrapped = device
        self.path = path
        self.format = format
        switch format {
        case .pcapng: pcapng = try PcapNGWriter(path: path, interfaceName: device.name)
        case .pcap: pcap = try PcapDumpWriter(path: path)
        }
        CaptureDevice.log.info("capturing frames", "name=\(device.name) file=\(path)")
    }

    public var name: String { wrapped.name }
    public var macAddress: MACAddress { wrapped.macAddress }
    public var mtu: Int { wrapped.mtu }
    public var pool: FramePool { wrapped.pool }
    public var counters: DeviceCounters { wrapped.counters }
    public var nextDeadline: Instant? { wrapped.nextDeadline }

    /// Embeds TLS key log lines (NSS key log format) in a pcapng capture as
    /// a Decryption Secrets Block, so Wireshark can decrypt the TLS traffic
    /// that follows. Only for `.pcapng`: classic pcap has no place for them.
    public func appendTLSKeyLog(_ lines: String) throws {
        guard let pcapng else {
            throw DeviceError(.invalidArgument,
                              "capture file \(path) is classic pcap, which cannot hold TLS secrets: capture to a .pcapng file")
        }
        // Secrets derived from the received batch go before its frames.
        if let mark = inboundMark, mark.flushCount == pcapng.flushCount {
            let next = try pcapng.insertTLSKeyLog(lines, at: mark.position)
            inboundMark = (next, pcapng.flushCount)
        } else {
            try pcapng.appendTLSKeyLog(lines)
            try pcapng.flush()
        }
    }

    public func receive(into batch: inout FrameBatch, now: Instant) throws -> Int {
        flushHeldInbound()
        let first = batch.count
        let count = try wrapped.receive(into: &batch, now: now)
        if count > 0 {
            if let pcapng { inboundMark = (pcapng.bufferedByteCount, pcapng.flushCount) }
            // A pcapng batch stays buffered until the stack has handled it,
            // so TLS secrets it yields can still be placed in front of it.
            record(batch, from: first, direction: .inbound, flush: pcapng == nil)
        }
        return count
    }

    public func transmit(_ batch: inout FrameBatch, now: Instant) throws {
        if !batch.isEmpty {
            record(batch, from: 0, direction: .outbound, flush: true)
            inboundMark = nil
        }
        try wrapped.transmit(&batch, now: now)
    }

    public func wait(until deadline: Instant, now: Instant) throws {
        flushHeldInbound()
        try wrapped.wait(until: deadline, now: now)
    }

    /// Writes a received batch that was held for TLS secrets.
    private func flushHeldInbound() {
        guard inboundMark != nil else { return }
        inboundMark = nil
        do {
            try pcapng?.flush()
        } catch {
            noteWriteError(error)
        }
    }

    public func close() {
        pcapng?.close()
        pcap?.close()
        wrapped.close()
        CaptureDevice.log.info("capture closed", "name=\(name) file=\(path) frames=\(capturedFrames) write_errors=\(writeErrors)")
    }

    /// Writes frames `first..<batch.count`, and flushes when `flush` is set.
    private func record(_ batch: borrowing FrameBatch, from first: Int, direction: CaptureDirection, flush: Bool) {
        let timestamp = wallClockNanoseconds()
        do {
            for i in first..<batch.count {
                let bytes = UnsafeRawBufferPointer(pool.bytes(batch[i]))
                if let pcapng {
                    try pcapng.appendPacket(bytes, timestampNanoseconds: timestamp, direction: direction)
                } else {
                    try pcap?.appendPacket(bytes, timestampNanoseconds: timestamp)
                }
                capturedFrames &+= 1
            }
            if flush {
                if let pcapng { try pcapng.flush() } else { try pcap?.flush() }
            }
        } catch {
            noteWriteError(error)
        }
    }

    private func noteWriteError(_ error: any Error) {
        writeErrors &+= 1
        if errorLogLimiter.allow(now: MonotonicTimeSource().now()) {
            CaptureDevice.log.error("capture write failed", "name=\(name) file=\(path) error=\(error)")
        }
    }
}
