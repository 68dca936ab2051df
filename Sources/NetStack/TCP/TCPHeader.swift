/// The TCP header and its options on the wire (RFC 9293 §3.1, RFC 7323,
/// RFC 2018).
///
/// `TCPHeaderView` checks lengths once and then reads fields from the bytes;
/// `TCPHeaderRepr` is the parsed header, built by `parse` and written back
/// by `emit`. Parsing never traps on hostile input: every length is checked.

/// The TCP control bits (RFC 9293 §3.1, RFC 3168 for ECE/CWR).
public struct TCPFlags: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let fin = TCPFlags(rawValue: 0x01)
    public static let syn = TCPFlags(rawValue: 0x02)
    public static let rst = TCPFlags(rawValue: 0x04)
    public static let psh = TCPFlags(rawValue: 0x08)
    public static let ack = TCPFlags(rawValue: 0x10)
    public static let urg = TCPFlags(rawValue: 0x20)
    public static let ece = TCPFlags(rawValue: 0x40)
    public static let cwr = TCPFlags(rawValue: 0x80)

    /// tcpdump's letters: S, F, R, P, ., U, E, W.
    public var description: String {
        var text = ""
        if contains(.syn) { text += "S" }
        if contains(.fin) { text += "F" }
        if contains(.rst) { text += "R" }
        if contains(.psh) { text += "P" }
        if contains(.urg) { text += "U" }
        if contains(.ece) { text += "E" }
        if contains(.cwr) { text += "W" }
        if contains(.ack) { text += "." }
        return text.isEmpty ? "none" : text
    }
}

/// The reason a TCP header could not be parsed.
public enum TCPWireError: Error, Hashable, Sendable {
    /// Fewer than 20 bytes, or fewer than the data offset requires.
    case truncated
    /// A data offset below 5 words.
    case badDataOffset
    /// An option whose length is below 2, runs past the header, or does not
    /// match its kind's fixed size.
    case badOptionLength(kind: UInt8)
    case badChecksum
}

/// One SACK block (RFC 2018 §3): the left edge and the sequence number just
/// past the right edge of a received block.
public struct TCPSackBlock: Hashable, Sendable, CustomStringConvertible {
    public var left: TCPSeq
    public var right: TCPSeq
    public init(left: TCPSeq, right: TCPSeq) {
        self.left = left
        self.right = right
    }
    public var description: String { "\(left)-\(right)" }
}

/// The TCP timestamps option (RFC 7323 §3).
public struct TCPTimestamps: Hashable, Sendable {
    public var value: UInt32
    public var echoReply: UInt32
    public init(value: UInt32, echoReply: UInt32) {
        self.value = value
        self.echoReply = echoReply
    }
}

/// Option kinds (IANA "TCP Option Kind Numbers").
public enum TCPOptionKind {
    public static let endOfList: UInt8 = 0
    public static let noOperation: UInt8 = 1
    public static let maximumSegmentSize: UInt8 = 2
    public static let windowScale: UInt8 = 3
    public static let sackPermitted: UInt8 = 4
    public static let sack: UInt8 = 5
    public static let timestamps: UInt8 = 8
}

/// The options capnet understands. Unknown options are skipped by length.
public struct TCPOptions: Hashable, Sendable {
    public var maximumSegmentSize: UInt16?
    /// The shift count as sent; RFC 7323 §2.3 clamps values above 14 when used.
    public var windowScale: UInt8?
    public var sackPermitted: Bool = false
    /// At most 4 blocks (40 option bytes hold 4 blocks without timestamps).
    public var sackBlocks: [TCPSackBlock] = []
    public var timestamps: TCPTimestamps?

    public init(maximumSegmentSize: UInt16? = nil, windowScale: UInt8? = nil, sackPermitted: Bool = false,
                sackBlocks: [TCPSackBlock] = [], timestamps: TCPTimestamps? = nil) {
        self.maximumSegmentSize = maximumSegmentSize
        self.windowScale = windowScale
        self.sackPermitted = sackPermitted
        self.sackBlocks = sackBlocks
        self.timestamps = timestamps
    }

    /// Parses an options area. An end-of-list option stops parsing; the rest
    /// of the area is padding.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(TCPWireError) -> TCPOptions {
        var options = TCPOptions()
        var i = 0
        let n = bytes.count
        while i < n {
            let kind = bytes[i]
            if kind == TCPOptionKind.endOfList { break }
            if kind == TCPOptionKind.noOperation {
                i += 1
                continue
            }
            guard i + 1 < n else { throw .badOptionLength(kind: kind) }
            let length = Int(bytes[i + 1])
            guard length >= 2, i + length <= n else { throw .badOptionLength(kind: kind) }
            switch kind {
            case TCPOptionKind.maximumSegmentSize:
                guard length == 4 else { throw .badOptionLength(kind: kind) }
                options.maximumSegmentSize = UInt16(bytes[i + 2]) << 8 | UInt16(bytes[i + 3])
            case TCPOptionKind.windowScale:
                guard length == 3 else { throw .badOptionLength(kind: kind) }
                options.windowScale = bytes[i + 2]
            case TCPOptionKind.sackPermitted:
                guard length == 2 else { throw .badOptionLength(kind: kind) }
                options.sackPermitted = true
            case TCPOptionKind.sack:
                guard length >= 10, (length - 2) % 8 == 0 else { throw .badOptionLength(kind: kind) }
                var j = i + 2
                while j < i + length {
                    options.sackBlocks.append(TCPSackBlock(left: TCPSeq(readUInt32(bytes, j)),
                                                           right: TCPSeq(readUInt32(bytes, j + 4))))
                    j += 8
                }
            case TCPOptionKind.timestamps:
                guard length == 10 else { throw .badOptionLength(kind: kind) }
                options.timestamps = TCPTimestamps(value: readUInt32(bytes, i + 2),
                                                   echoReply: readUInt32(bytes, i + 6))
            default:
                break  // Unknown option: skipped by its length (RFC 9293 §3.1).
            }
            i += length
        }
        return options
    }

    /// The bytes `emit` writes, a multiple of 4.
    public var encodedLength: Int {
        var length = 0
        if maximumSegmentSize != nil { length += 4 }
        if timestamps != nil { length += 12 }  // NOP NOP TS, or SACK-permitted TS
        else if sackPermitted { length += 4 }  // NOP NOP SACK-permitted
        if windowScale != nil { length += 4 }  // NOP WS
        if !sackBlocks.isEmpty { length += 4 + 8 * sackBlocks.count }  // NOP NOP SACK
        return length
    }

    /// Writes the options in Linux's order, padded with NOPs to 32-bit words.
    /// The caller sizes the buffer with `encodedLength` (at most 40 bytes).
    public func emit(into bytes: UnsafeMutableRawBufferPointer) {
        var i = 0
        if let mss = maximumSegmentSize {
            bytes[i] = TCPOptionKind.maximumSegmentSize
            bytes[i + 1] = 4
            bytes[i + 2] = UInt8(mss >> 8)
            bytes[i + 3] = UInt8(mss & 0xFF)
            i += 4
        }
        if let ts = timestamps {
            if sackPermitted {
                bytes[i] = TCPOptionKind.sackPermitted
                bytes[i + 1] = 2
            } else {
                bytes[i] = TCPOptionKind.noOperation
                bytes[i + 1] = TCPOptionKind.noOperation
            }
            bytes[i + 2] = TCPOptionKind.timestamps
            bytes[i + 3] = 10
            writeUInt32(bytes, i + 4, ts.value)
            writeUInt32(bytes, i + 8, ts.echoReply)
            i += 12
        } else if sackPermitted {
            bytes[i] = TCPOptionKind.noOperation
            bytes[i + 1] = TCPOptionKind.noOperation
            bytes[i + 2] = TCPOptionKind.sackPermitted
            bytes[i + 3] = 2
            i += 4
        }
        if let shift = windowScale {
            bytes[i] = TCPOptionKind.noOperation
            bytes[i + 1] = TCPOptionKind.windowScale
            bytes[i + 2] = 3
            bytes[i + 3] = shift
            i += 4
        }
        if !sackBlocks.isEmpty {
            bytes[i] = TCPOptionKind.noOperation
            bytes[i + 1] = TCPOptionKind.noOperation
            bytes[i + 2] = TCPOptionKind.sack
            bytes[i + 3] = UInt8(2 + 8 * sackBlocks.count)
            i += 4
            for block in sackBlocks {
                writeUInt32(bytes, i, block.left.rawValue)
                writeUInt32(bytes, i + 4, block.right.rawValue)
                i += 8
            }
        }
    }
}

@inlinable func readUInt32(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
    UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16
        | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
}

@inlinable func readUInt16(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt16 {
    UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
}

@inlinable func writeUInt32(_ bytes: UnsafeMutableRawBufferPointer, _ offset: Int, _ value: UInt32) {
    bytes[offset] = UInt8(truncatingIfNeeded: value >> 24)
    bytes[offset + 1] = UInt8(truncatingIfNeeded: value >> 16)
    bytes[offset + 2] = UInt8(truncatingIfNeeded: value >> 8)
    bytes[offset + 3] = UInt8(truncatingIfNeeded: value)
}

@inlinable func writeUInt16(_ bytes: UnsafeMutableRawBufferPointer, _ offset: Int, _ value: UInt16) {
    bytes[offset] = UInt8(truncatingIfNeeded: value >> 8)
    bytes[offset + 1] = UInt8(truncatingIfNeeded: value)
}

/// A checked view of a TCP segment: header, options and payload.
///
/// `init(checking:)` verifies that the fixed header and the data offset fit
/// in the buffer; the accessors then read without further checks.
public struct TCPHeaderView {
    public let bytes: UnsafeRawBufferPointer

    public static let minimumLength = 20

    public init(checking bytes: UnsafeRawBufferPointer) throws(TCPWireError) {
        guard bytes.count >= TCPHeaderView.minimumLength else { throw .truncated }
        let offset = Int(bytes[12] >> 4) * 4
        guard offset >= TCPHeaderView.minimumLength else { throw .badDataOffset }
        guard offset <= bytes.count else { throw .truncated }
        self.bytes = bytes
    }

    public var sourcePort: UInt16 { readUInt16(bytes, 0) }
    public var destinationPort: UInt16 { readUInt16(bytes, 2) }
    public var sequenceNumber: TCPSeq { TCPSeq(readUInt32(bytes, 4)) }
    public var acknowledgmentNumber: TCPSeq { TCPSeq(readUInt32(bytes, 8)) }
    /// The header length in bytes, options included.
    public var headerLength: Int { Int(bytes[12] >> 4) * 4 }
    public var flags: TCPFlags { TCPFlags(rawValue: bytes[13]) }
    public var window: UInt16 { readUInt16(bytes, 14) }
    public var checksum: UInt16 { readUInt16(bytes, 16) }
    public var urgentPointer: UInt16 { readUInt16(bytes, 18) }
    public var optionBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[20..<headerLength])
    }
    public var payload: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[headerLength...])
    }

    /// Verifies the checksum over the IPv4 pseudo-header and the whole segment.
    public func verifyChecksum(source: IPv4Address, destination: IPv4Address) -> Bool {
        var sum = InternetChecksum()
        sum.addPseudoHeader(source: source, destination: destination,
                            protocolNumber: IPProtocol.tcp.rawValue, length: bytes.count)
        sum.add(bytes)
        return sum.value == 0
    }
}

/// A parsed TCP header.
public struct TCPHeaderRepr: Hashable, Sendable, CustomStringConvertible {
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    public var sequenceNumber: TCPSeq
    public var acknowledgmentNumber: TCPSeq
    public var flags: TCPFlags
    public var window: UInt16
    public var urgentPointer: UInt16
    public var options: TCPOptions

    public init(sourcePort: UInt16, destinationPort: UInt16, sequenceNumber: TCPSeq,
                acknowledgmentNumber: TCPSeq = TCPSeq(0), flags: TCPFlags, window: UInt16,
                urgentPointer: UInt16 = 0, options: TCPOptions = TCPOptions()) {
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.sequenceNumber = sequenceNumber
        self.acknowledgmentNumber = acknowledgmentNumber
        self.flags = flags
        self.window = window
        self.urgentPointer = urgentPointer
        self.options = options
    }

    /// Parses a checked view. The checksum is not verified here.
    public init(parsing view: TCPHeaderView) throws(TCPWireError) {
        sourcePort = view.sourcePort
        destinationPort = view.destinationPort
        sequenceNumber = view.sequenceNumber
        acknowledgmentNumber = view.acknowledgmentNumber
        flags = view.flags
        window = view.window
        urgentPointer = view.urgentPointer
        options = try TCPOptions.parse(view.optionBytes)
    }

    /// Checks, verifies the checksum and parses a whole segment.
    public static func parse(_ segment: UnsafeRawBufferPointer, source: IPv4Address,
                             destination: IPv4Address) throws(TCPWireError) -> (TCPHeaderRepr, payload: UnsafeRawBufferPointer) {
        let view = try TCPHeaderView(checking: segment)
        guard view.verifyChecksum(source: source, destination: destination) else { throw .badChecksum }
        return (try TCPHeaderRepr(parsing: view), view.payload)
    }

    /// The header length with options, a multiple of 4 and at most 60.
    public var headerLength: Int { 20 + options.encodedLength }

    /// Writes the header into the first `headerLength` bytes with a zero
    /// checksum; call `fillChecksum` once the payload is in place.
    public func emit(into bytes: UnsafeMutableRawBufferPointer) {
        let length = headerLength
        precondition(length <= 60 && bytes.count >= length, "TCP header does not fit")
        writeUInt16(bytes, 0, sourcePort)
        writeUInt16(bytes, 2, destinationPort)
        writeUInt32(bytes, 4, sequenceNumber.rawValue)
        writeUInt32(bytes, 8, acknowledgmentNumber.rawValue)
        bytes[12] = UInt8(length / 4) << 4
        bytes[13] = flags.rawValue
        writeUInt16(bytes, 14, window)
        writeUInt16(bytes, 16, 0)
        writeUInt16(bytes, 18, urgentPointer)
        options.emit(into: UnsafeMutableRawBufferPointer(rebasing: bytes[20..<length]))
    }

    /// Computes and stores the checksum of a whole emitted segment.
    public static func fillChecksum(segment: UnsafeMutableRawBufferPointer, source: IPv4Address,
                                    destination: IPv4Address) {
        writeUInt16(segment, 16, 0)
        var sum = InternetChecksum()
        sum.addPseudoHeader(source: source, destination: destination,
                            protocolNumber: IPProtocol.tcp.rawValue, length: segment.count)
        sum.add(UnsafeRawBufferPointer(segment))
        writeUInt16(segment, 16, sum.value)
    }

    public var description: String {
        var text = "\(sourcePort) > \(destinationPort) [\(flags)] seq \(sequenceNumber)"
        if flags.contains(.ack) { text += " ack \(acknowledgmentNumber)" }
        text += " win \(window)"
        if let mss = options.maximumSegmentSize { text += " mss \(mss)" }
        if let ws = options.windowScale { text += " wscale \(ws)" }
        if options.sackPermitted { text += " sackOK" }
        if let ts = options.timestamps { text += " TS val \(ts.value) ecr \(ts.echoReply)" }
        if !options.sackBlocks.isEmpty { text += " sack \(options.sackBlocks)" }
        return text
    }
}
