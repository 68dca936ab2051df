#if canImport(Glibc)
import Glibc
#endif

/// The direction of a captured frame, as the two low bits of the pcapng
/// `epb_flags` option store it (pcapng draft, section 4.3.1: 01 inbound,
/// 10 outbound).
public enum CaptureDirection: UInt32, Sendable {
    case inbound = 1
    case outbound = 2
}

/// A pcapng file writer for one Ethernet interface: a Section Header Block,
/// one Interface Description Block with nanosecond timestamps, then Enhanced
/// Packet Blocks with their direction, and Decryption Secrets Blocks wherever
/// the caller appends them.
///
/// Blocks collect in a fixed buffer and reach the file on `flush` (and when
/// the buffer fills), so a capture flushed after every batch survives a crash
/// of the process. Block layouts follow the pcapng specification
/// (draft-ietf-opsawg-pcapng, sections 4.1 to 4.7), written little-endian
/// with the byte-order magic telling readers so.
public final class PcapNGWriter {
    public let path: String
    private var fd: Int32
    private var buffer: UnsafeMutableRawPointer
    private var bufferCapacity: Int
    private var used = 0
    /// Bytes of the blocks appended so far, flushed or not: the file's size
    /// once everything is flushed.
    public private(set) var appendedBytes: UInt64 = 0

    /// Bytes buffered before a write to the file (a batch fits many times).
    public static let bufferBytes = 256 * 1024
    /// The largest frame recorded whole; longer frames are cut to this.
    public static let snapLength = 262_144

    // Block types, pcapng sections 4.1, 4.2, 4.3 and 4.7.
    static let sectionHeaderType: UInt32 = 0x0A0D_0D0A
    static let interfaceDescriptionType: UInt32 = 0x0000_0001
    static let enhancedPacketType: UInt32 = 0x0000_0006
    static let decryptionSecretsType: UInt32 = 0x0000_000A
    static let byteOrderMagic: UInt32 = 0x1A2B_3C4D
    /// LINKTYPE_ETHERNET from the tcpdump.org link-layer header registry.
    static let linkTypeEthernet: UInt16 = 1

    // Option codes.
    static let optEndOfOptions: UInt16 = 0
    static let shbUserApplication: UInt16 = 4
    static let ifName: UInt16 = 2
    static let ifTimestampResolution: UInt16 = 9
    static let epbFlags: UInt16 = 2
    /// if_tsresol value 9: timestamps count units of 10^-9 s.
    static let nanosecondResolution: UInt8 = 9

    /// The Decryption Secrets Block's secrets type for a TLS key log
    /// (NSS key log format), pcapng section 4.7.
    public static let secretsTypeTLSKeyLog: UInt32 = 0x544C_534B

    /// Creates (or truncates) `path` with mode 0600, because a capture may
    /// later hold TLS secrets, and writes the section and interface headers.
    public init(path: String, interfaceName: String, application: String = "capnet") throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw DeviceError(.ioFailure, "cannot create capture file \(path): \(errnoText(errno)); check the directory exists and is writable")
        }
        bufferCapacity = PcapNGWriter.bufferBytes
        buffer = .allocate(byteCount: bufferCapacity, alignment: 8)
        appendSectionHeader(application: application)
        appendInterfaceDescription(name: interfaceName)
        try flush()
    }

    deinit {
        close()
        buffer.deallocate()
    }

    /// Appends an Enhanced Packet Block (pcapng section 4.3) with the frame,
    /// its wall-clock time in nanoseconds since the Unix epoch and its
    /// direction.
    public func appendPacket(_ bytes: UnsafeRawBufferPointer, timestampNanoseconds: Int64,
                             direction: CaptureDirection) throws {
        let captured = min(bytes.count, PcapNGWriter.snapLength)
        let total = PcapNGWriter.enhancedPacketBlockLength(frameLength: bytes.count)
        try reserve(total)
        let timestamp = UInt64(bitPattern: timestampNanoseconds)
        put32(PcapNGWriter.enhancedPacketType)
        put32(UInt32(total))
        put32(0)                                      // interface id
        put32(UInt32(truncatingIfNeeded: timestamp >> 32))
        put32(UInt32(truncatingIfNeeded: timestamp))
        put32(UInt32(captured))
        put32(UInt32(bytes.count))                    // original length
        putBytes(UnsafeRawBufferPointer(rebasing: bytes[0..<captured]))
        put16(PcapNGWriter.epbFlags)
        put16(4)
        put32(direction.rawValue)
        putEndOfOptions()
        put32(UInt32(total))
    }

    /// Appends a Decryption Secrets Block (pcapng section 4.7). Readers
    /// apply secrets to the packets after the block, so append them before
    /// the encrypted records they unlock.
    public func appendDecryptionSecrets(type: UInt32, _ secrets: UnsafeRawBufferPointer) throws {
        let total = PcapNGWriter.decryptionSecretsBlockLength(secretsLength: secrets.count)
        try reserve(total)
        put32(PcapNGWriter.decryptionSecretsType)
        put32(UInt32(total))
        put32(type)
        put32(UInt32(secrets.count))
        putBytes(secrets)
        put32(UInt32(total))
    }

    /// Bytes appended since the last flush: a position for
    /// `insertTLSKeyLog(_:at:)`, valid while `flushCount` is unchanged.
    public var bufferedByteCount: Int { used }
    /// Flushes so far. A buffered position from before a flush is stale.
    public private(set) var flushCount = 0

    /// Inserts TLS key log lines as a DSB at buffered position `position`,
    /// ahead of the blocks appended after it, and returns the position just
    /// past the inserted block. A TLS client learns its handshake secrets
    /// only from the ServerHello it received, so its capture places the DSB
    /// before that already-buffered frame, where a reader needs it.
    public func insertTLSKeyLog(_ lines: String, at position: Int) throws -> Int {
        precondition(position >= 0 && position <= used, "insert position outside the buffered blocks")
        let tailLength = used - position
        let tail = UnsafeMutableRawPointer.allocate(byteCount: max(tailLength, 1), alignment: 8)
        defer { tail.deallocate() }
        tail.copyMemory(from: buffer + position, byteCount: tailLength)
        used = position
        let generation = flushCount
        try appendTLSKeyLog(lines)
        let inserted = generation == flushCount ? used : 0
        try reserve(tailLength)
        appendedBytes &-= UInt64(tailLength)  // moved, not new
        (buffer + used).copyMemory(from: tail, byteCount: tailLength)
        used += tailLength
        return inserted
    }

    /// Appends TLS key log lines (`CLIENT_HANDSHAKE_TRAFFIC_SECRET <random>
    /// <secret>`, one per line, as SSLKEYLOGFILE writes them) as a DSB.
    public func appendTLSKeyLog(_ lines: String) throws {
        var text = lines
        if !text.hasSuffix("\n") { text += "\n" }
        try text.withUTF8 { utf8 in
            try appendDecryptionSecrets(type: PcapNGWriter.secretsTypeTLSKeyLog, UnsafeRawBufferPointer(utf8))
        }
    }

    /// Writes the buffered blocks to the file.
    public func flush() throws {
        guard used > 0 else { return }
        guard fd >= 0 else { throw DeviceError(.ioFailure, "capture file \(path) is closed") }
        var offset = 0
        while offset < used {
            let n = write(fd, buffer + offset, used - offset)
            if n < 0 {
                if errno == EINTR { continue }
                let err = errno
                used = 0
                throw DeviceError(.ioFailure, "cannot write capture file \(path): \(errnoText(err)); check free disk space")
            }
            offset += n
        }
        used = 0
        flushCount &+= 1
    }

    /// Flushes and closes the file. Later appends throw.
    public func close() {
        guard fd >= 0 else { return }
        try? flush()
        Glibc.close(fd)
        fd = -1
    }

    // MARK: Headers

    /// Section Header Block (pcapng section 4.1) with an unknown section length.
    private func appendSectionHeader(application: String) {
        let app = Array(application.utf8)
        let total = 24 + option(length: app.count) + 4 + 4
        try? reserve(total)
        put32(PcapNGWriter.sectionHeaderType)
        put32(UInt32(total))
        put32(PcapNGWriter.byteOrderMagic)
        put16(1)                                      // major version
        put16(0)                                      // minor version
        put32(0xFFFF_FFFF)                            // section length -1: not given
        put32(0xFFFF_FFFF)
        putOption(PcapNGWriter.shbUserApplication, app)
        putEndOfOptions()
        put32(UInt32(total))
    }

    /// Interface Description Block (pcapng section 4.2): Ethernet, the snap
    /// length, the interface's name and nanosecond resolution.
    private func appendInterfaceDescription(name: String) {
        let nameBytes = Array(name.utf8)
        let total = 16 + option(length: nameBytes.count) + option(length: 1) + 4 + 4
        try? reserve(total)
        put32(PcapNGWriter.interfaceDescriptionType)
        put32(UInt32(total))
        put16(PcapNGWriter.linkTypeEthernet)
        put16(0)                                      // reserved
        put32(UInt32(PcapNGWriter.snapLength))
        putOption(PcapNGWriter.ifName, nameBytes)
        putOption(PcapNGWriter.ifTimestampResolution, [PcapNGWriter.nanosecondResolution])
        putEndOfOptions()
        put32(UInt32(total))
    }

    // MARK: Block lengths

    /// The bytes `appendPacket` adds for a frame of `frameLength` bytes:
    /// header 28, data cut to `snapLength` and padded to 32 bits, epb_flags 8,
    /// end of options 4, trailer 4.
    public static func enhancedPacketBlockLength(frameLength: Int) -> Int {
        28 + padded(min(frameLength, snapLength)) + 8 + 4 + 4
    }

    /// The bytes `appendDecryptionSecrets` adds for `secretsLength` bytes of
    /// secrets: header 8, secrets type 4, length 4, data padded, trailer 4.
    public static func decryptionSecretsBlockLength(secretsLength: Int) -> Int {
        16 + padded(secretsLength) + 4
    }

    // MARK: Buffer

    private static func padded(_ length: Int) -> Int { (length + 3) & ~3 }

    private func padded(_ length: Int) -> Int { Self.padded(length) }

    private func option(length: Int) -> Int { 4 + padded(length) }

    /// Makes room for `count` bytes, flushing first and growing the buffer
    /// only for a block larger than it (a big secrets block).
    private func reserve(_ count: Int) throws {
        guard fd >= 0 else { throw DeviceError(.ioFailure, "capture file \(path) is closed") }
        if used + count > bufferCapacity {
            try flush()
            if count > bufferCapacity {
                let grown = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 8)
                buffer.deallocate()
                buffer = grown
                bufferCapacity = count
            }
        }
        appendedBytes &+= UInt64(count)
    }

    private func put16(_ value: UInt16) {
        (buffer + used).storeBytes(of: value.littleEndian, as: UInt16.self)
        used += 2
    }

    private func put32(_ value: UInt32) {
        (buffer + used).storeBytes(of: value.littleEndian, as: UInt32.self)
        used += 4
    }

    /// Copies `bytes` and zero-pads to a 32-bit boundary.
    private func putBytes(_ bytes: UnsafeRawBufferPointer) {
        if let base = bytes.baseAddress, bytes.count > 0 {
            (buffer + used).copyMemory(from: base, byteCount: bytes.count)
        }
        let pad = padded(bytes.count) - bytes.count
        (buffer + used + bytes.count).initializeMemory(as: UInt8.self, repeating: 0, count: pad)
        used += bytes.count + pad
    }

    private func putOption(_ code: UInt16, _ value: [UInt8]) {
        put16(code)
        put16(UInt16(value.count))
        value.withUnsafeBytes { putBytes($0) }
    }

    private func putEndOfOptions() {
        put16(PcapNGWriter.optEndOfOptions)
        put16(0)
    }
}
