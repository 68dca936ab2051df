/// The reason a received header was rejected. A struct over a code, so new codes can
/// be added without breaking callers that compare against the static members.
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    enum Code: Hashable, Sendable {
        case truncated, badVersion, badHeaderLength, badTotalLength, badLength
        case badChecksum, unsupportedHardware, unsupportedProtocol
    }

    let code: Code

    /// The buffer is shorter than the header or than a length field states.
    public static let truncated = WireError(code: .truncated)
    /// The IPv4 version field is not 4.
    public static let badVersion = WireError(code: .badVersion)
    /// The IPv4 IHL is below 5 words or past the end of the buffer.
    public static let badHeaderLength = WireError(code: .badHeaderLength)
    /// The IPv4 total length is below the header length or past the end of the buffer.
    public static let badTotalLength = WireError(code: .badTotalLength)
    /// A transport length field (UDP) is below the header size or past the end of the buffer.
    public static let badLength = WireError(code: .badLength)
    public static let badChecksum = WireError(code: .badChecksum)
    /// ARP for a hardware type or address length other than Ethernet's.
    public static let unsupportedHardware = WireError(code: .unsupportedHardware)
    /// ARP for a protocol other than IPv4.
    public static let unsupportedProtocol = WireError(code: .unsupportedProtocol)

    public var description: String {
        switch code {
        case .truncated: "truncated"
        case .badVersion: "bad version"
        case .badHeaderLength: "bad header length"
        case .badTotalLength: "bad total length"
        case .badLength: "bad length"
        case .badChecksum: "bad checksum"
        case .unsupportedHardware: "unsupported hardware type"
        case .unsupportedProtocol: "unsupported protocol type"
        }
    }
}

/// Big-endian field access for the wire views. Callers have checked the
/// buffer length once, so these never go out of bounds.
enum NetworkOrder {
    @inline(__always) static func read16(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt16 {
        UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    @inline(__always) static func write16(_ value: UInt16, _ bytes: UnsafeMutableRawBufferPointer, _ offset: Int) {
        bytes[offset] = UInt8(truncatingIfNeeded: value >> 8)
        bytes[offset + 1] = UInt8(truncatingIfNeeded: value)
    }
}
