extension VirtioNetDevice {
    /// Completes a partial checksum marked VIRTIO_NET_HDR_F_NEEDS_CSUM
    /// (virtio 1.2 §5.1.6.4). The 16-bit field at `start + offset` contains
    /// the pseudo-header sum. The checksum is the ones' complement of the
    /// ones' complement sum (RFC 1071) of everything from `start` to the end
    /// of the frame, that field included. Returns false, changing nothing,
    /// when the offsets do not fit in the frame.
    ///
    /// A result of 0 is written as 0xFFFF, its other ones' complement form,
    /// because 0 means "no checksum" in UDP (RFC 768); TCP accepts either.
    ///
    /// NOTE: NIC sits below NetStack and cannot use its `InternetChecksum`,
    /// so the sum is computed here once more.
    static func completePartialChecksum(_ frame: UnsafeMutableRawBufferPointer, start: Int, offset: Int) -> Bool {
        let field = start + offset
        guard start >= 0, offset >= 0, field + checksumFieldSize <= frame.count else { return false }
        var sum: UInt64 = 0
        var i = start
        while i + 2 <= frame.count {
            sum &+= UInt64(UInt16(frame[i]) << 8 | UInt16(frame[i + 1]))
            i += 2
        }
        // An odd trailing byte is padded with a zero byte (RFC 1071 §4.1).
        if i < frame.count { sum &+= UInt64(frame[i]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xFFFF) + (sum >> 16) }
        var checksum = ~UInt16(truncatingIfNeeded: sum)
        if checksum == 0 { checksum = 0xFFFF }
        frame[field] = UInt8(truncatingIfNeeded: checksum >> 8)
        frame[field + 1] = UInt8(truncatingIfNeeded: checksum)
        return true
    }

    static let checksumFieldSize = 2
}
