/// An IEEE 802 MAC-48 address, stored in the low 48 bits of an integer so it
/// compares and hashes without touching memory.
public struct MACAddress: Hashable, Sendable, CustomStringConvertible {
    /// The address with its first octet in bits 47...40.
    public let rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue & 0xFFFF_FFFF_FFFF }

    public init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8, _ b4: UInt8, _ b5: UInt8) {
        self.init(rawValue: UInt64(b0) << 40 | UInt64(b1) << 32 | UInt64(b2) << 24
                  | UInt64(b3) << 16 | UInt64(b4) << 8 | UInt64(b5))
    }

    /// Reads six octets at `offset`. The caller has checked the length.
    @inlinable public init(bytes: UnsafeRawBufferPointer, offset: Int) {
        var value: UInt64 = 0
        for i in 0..<6 { value = value << 8 | UInt64(bytes[offset + i]) }
        self.init(rawValue: value)
    }

    /// Parses `aa:bb:cc:dd:ee:ff` (hyphens accepted too).
    public init?(_ text: String) {
        let parts = text.split(whereSeparator: { $0 == ":" || $0 == "-" })
        guard parts.count == 6 else { return nil }
        var value: UInt64 = 0
        for part in parts {
            guard part.count == 2, let octet = UInt8(part, radix: 16) else { return nil }
            value = value << 8 | UInt64(octet)
        }
        self.init(rawValue: value)
    }

    public static let broadcast = MACAddress(rawValue: 0xFFFF_FFFF_FFFF)
    public static let zero = MACAddress(rawValue: 0)

    /// The I/G bit (IEEE 802-2014 §8.2): set for group addresses, broadcast included.
    public var isMulticast: Bool { (rawValue >> 40) & 0x01 != 0 }
    public var isBroadcast: Bool { self == .broadcast }

    /// Octet `index` (0...5), most significant first.
    @inlinable public func octet(_ index: Int) -> UInt8 { UInt8(truncatingIfNeeded: rawValue >> (8 * (5 - index))) }

    /// Writes six octets at `offset`. The caller has checked the length.
    @inlinable public func write(to bytes: UnsafeMutableRawBufferPointer, offset: Int) {
        for i in 0..<6 { bytes[offset + i] = octet(i) }
    }

    /// A locally administered unicast address (U/L bit set, I/G clear) from
    /// 40 random bits, for a stack started without `--mac`.
    public static func locallyAdministered<G: RandomNumberGenerator>(using generator: inout G) -> MACAddress {
        let random = generator.next() & 0xFF_FFFF_FFFF
        return MACAddress(rawValue: 0x02_00_0000_0000 | random)
    }

    public var description: String {
        (0..<6).map { i in
            let hex = String(octet(i), radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined(separator: ":")
    }
}
