import CURing

/// An interface's MTU and MAC address, read with SIOCGIFMTU and
/// SIOCGIFHWADDR in the calling thread's network namespace.
struct LinkInfo {
    var mtu: Int
    var macAddress: MACAddress

    /// Destination, source and EtherType (IEEE 802.3 §3.1.1).
    static let ethernetHeaderLength = 14
    /// An IEEE 802.1Q tag, which a slot leaves room for.
    static let vlanTagLength = 4
    /// MTUs a device accepts: from IPv4's minimum of 68 bytes (RFC 791) to
    /// the largest IPv4 datagram.
    static let mtuRange = 68...65_535

    /// Returns the pool slot size for `mtu`: the frame and a VLAN tag, rounded up
    /// to 64 bytes, and never below `FramePool.defaultSlotSize`.
    static func slotSize(mtu: Int) -> Int {
        let needed = (mtu + ethernetHeaderLength + vlanTagLength + 63) / 64 * 64
        return max(FramePool.defaultSlotSize, needed)
    }

    /// Reads the link of `interface`; `kind` and `place` only word errors
    /// ("tap device", " in network namespace 'x'").
    static func read(interface: String, kind: String, place: String) throws -> LinkInfo {
        let mtu = capnet_if_get_mtu(interface)
        guard mtu > 0 else {
            throw DeviceError(.ioFailure, "cannot read the MTU of \(kind) '\(interface)'\(place): \(errnoText(-mtu))")
        }
        var hw: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0)
        let rc = withUnsafeMutableBytes(of: &hw) { raw in
            // The tuple has six bytes, so the base address exists.
            capnet_if_get_hwaddr(interface, raw.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        guard rc == 0 else {
            throw DeviceError(.ioFailure, "cannot read the MAC address of \(kind) '\(interface)'\(place): \(errnoText(-rc))")
        }
        return LinkInfo(mtu: Int(mtu), macAddress: MACAddress(hw.0, hw.1, hw.2, hw.3, hw.4, hw.5))
    }
}
