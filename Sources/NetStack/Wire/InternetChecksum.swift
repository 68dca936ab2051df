/// The Internet checksum (RFC 1071): the ones' complement of the ones'
/// complement sum of 16-bit big-endian words. Used by IPv4, ICMP, UDP and TCP.
///
/// Accumulate with `add`, then read `value`. A received header with a valid
/// checksum sums to zero, so `isValid` is `value == 0` after adding it whole.
public struct InternetChecksum: Sendable {
    @usableFromInline var sum: UInt64 = 0

    @inlinable public init() {}

    /// Adds `bytes`. Successive calls must each start at an even offset of the
    /// checksummed data except the last, because an odd trailing byte is
    /// padded with zero (RFC 1071 §4.1).
    @inlinable public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        var i = 0
        let n = bytes.count
        // Bulk: load 8 bytes at a time in the host's byte order and add their
        // 32-bit halves into a 64-bit accumulator (RFC 1071 §2(C), deferred
        // carries). The ones' complement sum is byte-order independent
        // (RFC 1071 §2(B)), so the folded 16-bit result only needs a byte swap
        // on a little-endian host to join the big-endian sum.
        if n >= 16, let base = bytes.baseAddress {
            var native: UInt64 = 0
            while i + 8 <= n {
                let word = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                native &+= (word & 0xFFFF_FFFF) &+ (word >> 32)
                i += 8
            }
            while native >> 16 != 0 { native = (native & 0xFFFF) &+ (native >> 16) }
            sum &+= UInt64(UInt16(truncatingIfNeeded: native).bigEndian)
        }
        // The rest: 32-bit big-endian words, then a 16-bit word and a byte.
        while i + 4 <= n {
            let word = UInt32(bytes[i]) << 24 | UInt32(bytes[i + 1]) << 16
                | UInt32(bytes[i + 2]) << 8 | UInt32(bytes[i + 3])
            sum &+= UInt64(word)
            i += 4
        }
        while i + 2 <= n {
            sum &+= UInt64(UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1]))
            i += 2
        }
        if i < n { sum &+= UInt64(bytes[i]) << 8 }
    }

    @inlinable public mutating func add(_ word: UInt16) { sum &+= UInt64(word) }

    @inlinable public mutating func add(_ word: UInt32) { sum &+= UInt64(word) }

    /// Adds the IPv4 pseudo-header of RFC 768 / RFC 9293 §3.1.
    @inlinable public mutating func addPseudoHeader(source: IPv4Address, destination: IPv4Address,
                                                    protocolNumber: UInt8, length: Int) {
        add(source.rawValue)
        add(destination.rawValue)
        add(UInt16(protocolNumber))
        add(UInt16(truncatingIfNeeded: length))
    }

    /// The checksum to put in a header: the complemented folded sum.
    @inlinable public var value: UInt16 {
        var folded = sum
        while folded >> 16 != 0 { folded = (folded & 0xFFFF) + (folded >> 16) }
        return ~UInt16(truncatingIfNeeded: folded)
    }

    /// Convenience for one contiguous buffer.
    @inlinable public static func compute(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        var checksum = InternetChecksum()
        checksum.add(bytes)
        return checksum.value
    }
}
