/// A bounds-checked reader over a byte array, for the RFC 8446 §3 presentation language.
///
/// Every length-prefixed structure is read through `readNested`, which gives
/// the body a reader limited to the prefix's length and rejects bytes the body
/// leaves unread. So the nested-limit rule and the no-trailing-bytes rule live
/// here only, and no parser can read past its enclosing structure.
public struct ByteReader {
    private let bytes: [UInt8]
    private var position: Int
    private let end: Int

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        position = 0
        end = bytes.count
    }

    private init(bytes: [UInt8], position: Int, end: Int) {
        self.bytes = bytes
        self.position = position
        self.end = end
    }

    public var remaining: Int { end - position }
    public var isEmpty: Bool { position == end }
    /// The offset of the next byte in the array the reader was made from.
    public var offset: Int { position }

    /// Throws unless every byte has been read.
    public func finish(_ structure: @autoclosure () -> String) throws {
        guard position == end else {
            throw TLSError(.trailingBytes, "\(structure()): \(end - position) trailing bytes")
        }
    }

    private mutating func take(_ count: Int, _ field: @autoclosure () -> String) throws -> Range<Int> {
        guard count <= end - position else {
            throw TLSError(.truncated, "\(field()): needs \(count) bytes, \(end - position) left")
        }
        defer { position += count }
        return position..<(position + count)
    }

    public mutating func readUInt8(_ field: @autoclosure () -> String = "uint8") throws -> UInt8 {
        let range = try take(1, field())
        return bytes[range.lowerBound]
    }

    public mutating func readUInt16(_ field: @autoclosure () -> String = "uint16") throws -> UInt16 {
        let range = try take(2, field())
        return UInt16(bytes[range.lowerBound]) << 8 | UInt16(bytes[range.lowerBound + 1])
    }

    public mutating func readUInt24(_ field: @autoclosure () -> String = "uint24") throws -> Int {
        let range = try take(3, field())
        let i = range.lowerBound
        return Int(bytes[i]) << 16 | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2])
    }

    public mutating func readUInt32(_ field: @autoclosure () -> String = "uint32") throws -> UInt32 {
        let high = UInt32(try readUInt16(field()))
        return high << 16 | UInt32(try readUInt16(field()))
    }

    /// Reads exactly `count` bytes.
    public mutating func readBytes(_ count: Int, _ field: @autoclosure () -> String) throws -> [UInt8] {
        Array(bytes[try take(count, field())])
    }

    /// Reads the rest of the reader.
    public mutating func readRemaining() -> [UInt8] {
        defer { position = end }
        return Array(bytes[position..<end])
    }

    /// Reads a length prefix of `prefixBytes` (1, 2 or 3) and checks it against `lengths`.
    private mutating func readLength(prefixBytes: Int, lengths: ClosedRange<Int>,
                                     _ field: @autoclosure () -> String) throws -> Int {
        let length: Int = switch prefixBytes {
        case 1: Int(try readUInt8(field()))
        case 2: Int(try readUInt16(field()))
        default: try readUInt24(field())
        }
        guard lengths.contains(length) else {
            throw TLSError(.lengthOutOfRange, "\(field()): length \(length) outside \(lengths)")
        }
        return length
    }

    /// Reads `opaque field<lengths>` with a `prefixBytes`-byte length.
    public mutating func readOpaque(prefixBytes: Int, lengths: ClosedRange<Int>,
                                    _ field: @autoclosure () -> String) throws -> [UInt8] {
        let length = try readLength(prefixBytes: prefixBytes, lengths: lengths, field())
        return try readBytes(length, field())
    }

    /// Reads a length-prefixed structure: `body` gets a reader limited to the
    /// prefix's length, and any bytes it leaves unread are an error.
    public mutating func readNested<T>(prefixBytes: Int, lengths: ClosedRange<Int>,
                                       _ field: @autoclosure () -> String,
                                       _ body: (inout ByteReader) throws -> T) throws -> T {
        let length = try readLength(prefixBytes: prefixBytes, lengths: lengths, field())
        let range = try take(length, field())
        var inner = ByteReader(bytes: bytes, position: range.lowerBound, end: range.upperBound)
        let value = try body(&inner)
        try inner.finish(field())
        return value
    }

    /// Reads a length-prefixed vector whose elements `element` reads one at a
    /// time until the vector's bytes are used up.
    public mutating func readVector<T>(prefixBytes: Int, lengths: ClosedRange<Int>,
                                       _ field: @autoclosure () -> String,
                                       element: (inout ByteReader) throws -> T) throws -> [T] {
        try readNested(prefixBytes: prefixBytes, lengths: lengths, field()) { inner in
            var values: [T] = []
            while !inner.isEmpty {
                values.append(try element(&inner))
            }
            return values
        }
    }
}

/// Appends presentation-language values to a byte array.
public struct ByteWriter {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func writeUInt8(_ value: UInt8) { bytes.append(value) }

    public mutating func writeUInt16(_ value: UInt16) {
        bytes.append(UInt8(value >> 8))
        bytes.append(UInt8(value & 0xFF))
    }

    public mutating func writeUInt24(_ value: Int) {
        bytes.append(UInt8((value >> 16) & 0xFF))
        bytes.append(UInt8((value >> 8) & 0xFF))
        bytes.append(UInt8(value & 0xFF))
    }

    public mutating func writeUInt32(_ value: UInt32) {
        writeUInt16(UInt16(value >> 16))
        writeUInt16(UInt16(value & 0xFFFF))
    }

    public mutating func writeBytes<C: Collection>(_ value: C) where C.Element == UInt8 {
        bytes.append(contentsOf: value)
    }

    /// Writes `opaque<...>` with a `prefixBytes`-byte length prefix.
    public mutating func writeOpaque<C: Collection>(prefixBytes: Int, _ value: C) where C.Element == UInt8 {
        writeNested(prefixBytes: prefixBytes) { $0.writeBytes(value) }
    }

    /// Writes what `body` writes, preceded by its length in `prefixBytes` bytes.
    public mutating func writeNested(prefixBytes: Int, _ body: (inout ByteWriter) -> Void) {
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: prefixBytes))
        body(&self)
        let length = bytes.count - start - prefixBytes
        precondition(length < 1 << (8 * prefixBytes), "length \(length) does not fit its prefix")
        for i in 0..<prefixBytes {
            bytes[start + i] = UInt8((length >> (8 * (prefixBytes - 1 - i))) & 0xFF)
        }
    }
}
