import CPcap
#if canImport(Glibc)
import Glibc
#endif

/// A classic pcap file written through libpcap's dump API, with nanosecond
/// timestamps (the file's magic is 0xA1B23C4D) and Ethernet framing.
final class PcapDumpWriter {
    let path: String
    private var dead: OpaquePointer?
    private var dumper: OpaquePointer?

    init(path: String) throws {
        self.path = path
        guard let dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, Int32(PcapNGWriter.snapLength),
                                                              UInt32(PCAP_TSTAMP_PRECISION_NANO)) else {
            throw DeviceError(.ioFailure, "cannot create capture file \(path): libpcap could not make a dead handle")
        }
        guard let dumper = pcap_dump_open(dead, path) else {
            let detail = String(cString: pcap_geterr(dead))
            pcap_close(dead)
            throw DeviceError(.ioFailure, "cannot create capture file \(path): \(detail); check the directory exists and is writable")
        }
        // The file is created with the umask's mode; a capture may carry
        // private traffic, so only the owner reads it.
        _ = chmod(path, 0o600)
        self.dead = dead
        self.dumper = dumper
    }

    deinit { close() }

    func appendPacket(_ bytes: UnsafeRawBufferPointer, timestampNanoseconds: Int64) throws {
        guard let dumper, let base = bytes.baseAddress else {
            throw DeviceError(.ioFailure, "capture file \(path) is closed")
        }
        let captured = min(bytes.count, PcapNGWriter.snapLength)
        // With nanosecond precision, tv_usec contains nanoseconds.
        var header = pcap_pkthdr()
        header.ts.tv_sec = Int(timestampNanoseconds / 1_000_000_000)
        header.ts.tv_usec = Int(timestampNanoseconds % 1_000_000_000)
        header.caplen = UInt32(captured)
        header.len = UInt32(bytes.count)
        pcap_dump(UnsafeMutableRawPointer(dumper).assumingMemoryBound(to: UInt8.self), &header,
                  base.assumingMemoryBound(to: UInt8.self))
    }

    func flush() throws {
        guard let dumper else { throw DeviceError(.ioFailure, "capture file \(path) is closed") }
        if pcap_dump_flush(dumper) != 0 {
            throw DeviceError(.ioFailure, "cannot write capture file \(path): \(errnoText(errno)); check free disk space")
        }
    }

    func close() {
        if let dumper { pcap_dump_close(dumper) }
        if let dead { pcap_close(dead) }
        dumper = nil
        dead = nil
    }
}
