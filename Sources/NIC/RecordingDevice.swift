import CapnetBase

/// A wrapper that passes frames through and, while recordings are active,
/// writes every received and transmitted frame to each active recording's
/// pcapng file, with its direction and a wall-clock timestamp in
/// nanoseconds, flushed after every batch.
///
/// Unlike `CaptureDevice`, which records from construction to close,
/// recordings start and stop at run time (the Web UI's capture control).
/// Both bounds are per device: at most `Limits.maximumRecordings` at once,
/// and at most `Limits.maximumBytesPerRecording` bytes in each file. A
/// recording that would grow past its byte limit stops itself, and its
/// `stopReason` records the limit. A recording whose file write fails stops too, and
/// the frames still flow.
///
/// Threading: every method runs on the run loop's thread, like the device
/// itself. The Web UI handlers that start and stop recordings also run on
/// that thread, so nothing here takes a lock.
public final class RecordingDevice: FrameDevice {
    /// The bounds on recordings.
    public struct Limits: Sendable, Equatable {
        /// The maximum recordings active at once; each one costs a file
        /// descriptor, a `PcapNGWriter.bufferBytes` buffer and one write per batch.
        public var maximumRecordings: Int
        /// The maximum size of one recording's file, in bytes.
        public var maximumBytesPerRecording: UInt64

        public static let defaultMaximumRecordings = 4
        public static let defaultMaximumBytesPerRecording: UInt64 = 64 * 1024 * 1024

        public init(maximumRecordings: Int = Limits.defaultMaximumRecordings,
                    maximumBytesPerRecording: UInt64 = Limits.defaultMaximumBytesPerRecording) {
            self.maximumRecordings = maximumRecordings
            self.maximumBytesPerRecording = maximumBytesPerRecording
        }
    }

    /// The cause of a recording's stop.
    public enum StopReason: Sendable, Equatable, CustomStringConvertible {
        /// `stopRecording` was called.
        case requested
        /// The next block would have grown the file past `maximumBytesPerRecording`.
        case sizeLimitReached(UInt64)
        /// A write to the file failed, with the error message.
        case writeFailed(String)
        /// The device was closed while the recording was active.
        case deviceClosed

        public var description: String {
            switch self {
            case .requested: "stopped on request"
            case .sizeLimitReached(let limit): "stopped at the size limit of \(limit) bytes"
            case .writeFailed(let message): "stopped because a write failed: \(message)"
            case .deviceClosed: "stopped because the device was closed"
            }
        }
    }

    /// One recording into one pcapng file.
    public final class Recording {
        public let name: String
        public let path: String
        /// Frames written, both directions.
        public fileprivate(set) var frameCount: UInt64 = 0
        /// The cause of the stop, or nil while the recording is active.
        public fileprivate(set) var stopReason: StopReason?
        fileprivate let writer: PcapNGWriter
        fileprivate let maximumBytes: UInt64

        public var isActive: Bool { stopReason == nil }
        /// The file's size in bytes once flushed; every batch is flushed.
        public var byteCount: UInt64 { writer.appendedBytes }

        fileprivate init(name: String, path: String, writer: PcapNGWriter, maximumBytes: UInt64) {
            self.name = name
            self.path = path
            self.writer = writer
            self.maximumBytes = maximumBytes
        }

        /// Returns whether a block of `length` bytes still fits under the limit.
        fileprivate func fits(_ length: Int) -> Bool {
            writer.appendedBytes + UInt64(length) <= maximumBytes
        }
    }

    public let wrapped: FrameDevice
    public let limits: Limits
    /// The active recordings, oldest first.
    public private(set) var activeRecordings: [Recording] = []

    private static let log = Logger(.nic)

    public init(wrapping device: FrameDevice, limits: Limits = Limits()) {
        wrapped = device
        self.limits = limits
    }

    public var name: String { wrapped.name }
    public var macAddress: MACAddress { wrapped.macAddress }
    public var mtu: Int { wrapped.mtu }
    public var pool: FramePool { wrapped.pool }
    public var counters: DeviceCounters { wrapped.counters }
    public var nextDeadline: Instant? { wrapped.nextDeadline }

    // MARK: Control

    /// Creates (or truncates) the pcapng file `path` with mode 0600 and
    /// starts recording into it. Throws when `limits.maximumRecordings` are
    /// active or the file cannot be created.
    public func startRecording(name: String, path: String) throws -> Recording {
        guard activeRecordings.count < limits.maximumRecordings else {
            throw DeviceError(.busy, "\(activeRecordings.count) recordings are active, the maximum "
                + "(\(limits.maximumRecordings)); stop one first")
        }
        let writer = try PcapNGWriter(path: path, interfaceName: wrapped.name)
        let recording = Recording(name: name, path: path, writer: writer,
                                  maximumBytes: limits.maximumBytesPerRecording)
        activeRecordings.append(recording)
        Self.log.info("recording started", "name=\(name) file=\(path) device=\(wrapped.name)")
        return recording
    }

    /// Stops `recording` and closes its file. Does nothing if it has stopped.
    public func stopRecording(_ recording: Recording) {
        stop(recording, reason: .requested)
    }

    /// Appends TLS key log lines (NSS key log format) to every active
    /// recording as a Decryption Secrets Block, so the frames that follow
    /// decrypt with no key file.
    public func appendTLSKeyLog(_ lines: String) {
        guard !activeRecordings.isEmpty else { return }
        var text = lines
        if !text.hasSuffix("\n") { text += "\n" }
        let length = PcapNGWriter.decryptionSecretsBlockLength(secretsLength: text.utf8.count)
        for recording in activeRecordings {
            guard recording.fits(length) else {
                stop(recording, reason: .sizeLimitReached(recording.maximumBytes))
                continue
            }
            do {
                try recording.writer.appendTLSKeyLog(text)
                try recording.writer.flush()
            } catch {
                stop(recording, reason: .writeFailed("\(error)"))
            }
        }
    }

    // MARK: FrameDevice

    public func receive(into batch: inout FrameBatch, now: Instant) throws -> Int {
        let first = batch.count
        let count = try wrapped.receive(into: &batch, now: now)
        if count > 0 && !activeRecordings.isEmpty {
            record(batch, from: first, direction: .inbound)
        }
        return count
    }

    public func transmit(_ batch: inout FrameBatch, now: Instant) throws {
        if !batch.isEmpty && !activeRecordings.isEmpty {
            record(batch, from: 0, direction: .outbound)
        }
        try wrapped.transmit(&batch, now: now)
    }

    public func wait(until deadline: Instant, now: Instant) throws {
        try wrapped.wait(until: deadline, now: now)
    }

    /// Stops every active recording, then closes the wrapped device.
    public func close() {
        for recording in activeRecordings {
            stop(recording, reason: .deviceClosed)
        }
        wrapped.close()
    }

    // MARK: Writing

    /// Writes frames `first..<batch.count` to every active recording and
    /// flushes each file once.
    private func record(_ batch: borrowing FrameBatch, from first: Int, direction: CaptureDirection) {
        let timestamp = wallClockNanoseconds()
        for recording in activeRecordings {
            do {
                for i in first..<batch.count {
                    let bytes = UnsafeRawBufferPointer(pool.bytes(batch[i]))
                    guard recording.fits(PcapNGWriter.enhancedPacketBlockLength(frameLength: bytes.count)) else {
                        try recording.writer.flush()
                        stop(recording, reason: .sizeLimitReached(recording.maximumBytes))
                        break
                    }
                    try recording.writer.appendPacket(bytes, timestampNanoseconds: timestamp, direction: direction)
                    recording.frameCount &+= 1
                }
                if recording.isActive { try recording.writer.flush() }
            } catch {
                stop(recording, reason: .writeFailed("\(error)"))
            }
        }
    }

    private func stop(_ recording: Recording, reason: StopReason) {
        guard recording.isActive else { return }
        recording.stopReason = reason
        recording.writer.close()
        activeRecordings.removeAll { $0 === recording }
        switch reason {
        case .requested, .deviceClosed:
            Self.log.info("recording stopped", "name=\(recording.name) frames=\(recording.frameCount) "
                + "bytes=\(recording.byteCount) reason=\(reason)")
        case .sizeLimitReached:
            Self.log.warning("recording stopped at its size limit", "name=\(recording.name) "
                + "frames=\(recording.frameCount) bytes=\(recording.byteCount) limit=\(recording.maximumBytes)")
        case .writeFailed(let message):
            // At most one line per recording, because the recording stops.
            Self.log.error("recording stopped because a write failed", "name=\(recording.name) "
                + "file=\(recording.path) error=\(message)")
        }
    }
}
