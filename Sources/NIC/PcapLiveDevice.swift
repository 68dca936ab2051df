import CapnetBase
import CPcap
import CURing
#if canImport(Glibc)
import Glibc
#endif

/// A frame device on an existing interface through libpcap: frames arriving
/// on the interface are captured (promiscuous, immediate mode, inbound only)
/// and transmitted frames are injected with `pcap_inject`.
///
/// Use it where a tap is not possible, such as one end of a veth pair or a
/// physical NIC. The kernel keeps processing the interface's traffic too, so
/// the interface should carry no IPv4 address that overlaps the stack's.
public final class PcapLiveDevice: FrameDevice {
    public let name: String
    public let macAddress: MACAddress
    /// The interface's own MAC address, distinct from the stack's.
    public let interfaceMACAddress: MACAddress
    public let mtu: Int
    public let pool: FramePool
    public private(set) var counters = DeviceCounters()
    public let namespace: String?

    private var handle: OpaquePointer?
    private let selectableFD: Int32
    /// Set when the last `receive` stopped because the batch was full, so
    /// libpcap may still hold frames that `poll` would not report.
    private var mayHaveBufferedFrames = false
    private var errorLogLimiter = LogRateLimiter(interval: .seconds(1), burst: 5)
    private static let log = Logger(.nic)
    /// The kernel's socket buffer for captured frames (libpcap's default is 2 MiB).
    public static let defaultBufferBytes = 4 << 20

    /// Opens the existing interface `interface` for capture and injection.
    ///
    /// - Parameters:
    ///   - interface: the interface name, such as `veth0`.
    ///   - namespace: a network namespace from `ip netns list` that contains the
    ///     interface; `nil` for the process's own.
    ///   - mtu: the MTU to use; `nil` reads the interface's (SIOCGIFMTU).
    ///   - macAddress: the stack's MAC; `nil` picks a random locally
    ///     administered one that differs from the interface's.
    ///   - poolSlots: frames in the device's pool.
    ///   - bufferBytes: the kernel capture buffer size.
    public init(interface: String, namespace: String? = nil, mtu: Int? = nil, macAddress: MACAddress? = nil,
                poolSlots: Int = 1024, bufferBytes: Int = PcapLiveDevice.defaultBufferBytes) throws {
        guard !interface.isEmpty, interface.utf8.count < Int(capnet_ifnamsiz), !interface.contains("/") else {
            throw DeviceError(.invalidArgument,
                              "interface name '\(interface)' is invalid: give 1 to \(capnet_ifnamsiz - 1) characters without '/'")
        }
        let place = namespace.map { " in network namespace '\($0)'" } ?? ""

        struct Opened { var handle: OpaquePointer; var link: LinkInfo }
        let opened: Opened = try NetworkNamespace.run(in: namespace) {
            guard capnet_if_get_index(interface) > 0 else {
                throw DeviceError(.notFound,
                                  "interface '\(interface)' not found\(place): check the name with `ip link show`")
            }
            let link = try LinkInfo.read(interface: interface, kind: "interface", place: place)
            let snapLength = (mtu ?? link.mtu) + LinkInfo.ethernetHeaderLength + LinkInfo.vlanTagLength
            let handle = try PcapLiveDevice.activate(interface: interface, place: place,
                                                     snapLength: snapLength, bufferBytes: bufferBytes)
            return Opened(handle: handle, link: link)
        }
        var handleToClose: OpaquePointer? = opened.handle
        defer { if let handleToClose { pcap_close(handleToClose) } }

        let linkMTU = mtu ?? opened.link.mtu
        guard LinkInfo.mtuRange.contains(linkMTU) else {
            throw DeviceError(.invalidArgument, "interface '\(interface)': MTU \(linkMTU) is out of range \(LinkInfo.mtuRange)")
        }
        if let mac = macAddress, mac == opened.link.macAddress || mac.isMulticast {
            throw DeviceError(.invalidArgument,
                              "interface '\(interface)': the stack's MAC \(mac) must be unicast and differ from the interface's \(opened.link.macAddress); omit it for a random one")
        }
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard pcap_setnonblock(opened.handle, 1, &errorBuffer) == 0 else {
            throw DeviceError(.ioFailure, "interface '\(interface)': cannot make the capture nonblocking: \(String(cString: errorBuffer))")
        }
        let fd = pcap_get_selectable_fd(opened.handle)
        guard fd >= 0 else {
            throw DeviceError(.ioFailure, "interface '\(interface)': libpcap offers no selectable descriptor to wait on")
        }

        name = interface
        self.namespace = namespace
        interfaceMACAddress = opened.link.macAddress
        self.mtu = linkMTU
        if let mac = macAddress {
            self.macAddress = mac
        } else {
            var generator = SystemRandomNumberGenerator()
            var mac = MACAddress.locallyAdministered(using: &generator)
            while mac == opened.link.macAddress { mac = MACAddress.locallyAdministered(using: &generator) }
            self.macAddress = mac
        }
        pool = FramePool(slotCount: poolSlots, slotSize: LinkInfo.slotSize(mtu: linkMTU))
        handle = opened.handle
        selectableFD = fd
        handleToClose = nil
        PcapLiveDevice.log.info("opened libpcap device",
                                "name=\(interface) ns=\(namespace ?? "-") mtu=\(linkMTU) mac=\(self.macAddress) interface_mac=\(opened.link.macAddress)")
    }

    deinit { close() }

    /// Creates and activates the capture: promiscuous (the stack's MAC is
    /// not the interface's), immediate mode (no batching delay), inbound only
    /// (so injected frames do not come back).
    private static func activate(interface: String, place: String, snapLength: Int, bufferBytes: Int) throws -> OpaquePointer {
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let handle = pcap_create(interface, &errorBuffer) else {
            throw DeviceError(.ioFailure, "cannot open interface '\(interface)'\(place) with libpcap: \(String(cString: errorBuffer))")
        }
        var ok = false
        defer { if !ok { pcap_close(handle) } }
        _ = pcap_set_snaplen(handle, Int32(snapLength))
        _ = pcap_set_promisc(handle, 1)
        _ = pcap_set_immediate_mode(handle, 1)
        _ = pcap_set_buffer_size(handle, Int32(bufferBytes))

        let rc = pcap_activate(handle)
        let detail = String(cString: pcap_geterr(handle))
        switch rc {
        case 0:
            break
        case 1...:
            log.warning("libpcap activated with a warning", "name=\(interface) warning=\(detail)")
        case PCAP_ERROR_NO_SUCH_DEVICE:
            throw DeviceError(.notFound, "interface '\(interface)' not found\(place): \(detail); check the name with `ip link show`")
        case PCAP_ERROR_PERM_DENIED, PCAP_ERROR_PROMISC_PERM_DENIED:
            throw DeviceError(.permissionDenied,
                              "cannot capture on interface '\(interface)'\(place): permission denied (\(detail)); this needs CAP_NET_RAW: run capnet as root")
        case PCAP_ERROR_IFACE_NOT_UP:
            throw DeviceError(.invalidArgument,
                              "interface '\(interface)'\(place) is down: bring it up with `ip link set \(interface) up`")
        default:
            throw DeviceError(.ioFailure, "cannot activate libpcap on interface '\(interface)'\(place): \(detail) (code \(rc))")
        }
        if pcap_setdirection(handle, PCAP_D_IN) != 0 {
            throw DeviceError(.ioFailure,
                              "interface '\(interface)': cannot restrict the capture to inbound frames: \(String(cString: pcap_geterr(handle)))")
        }
        ok = true
        return handle
    }

    // MARK: FrameDevice

    public func receive(into batch: inout FrameBatch, now: Instant) throws -> Int {
        guard let handle else { throw DeviceError(.ioFailure, "libpcap device '\(name)' is closed") }
        var appended = 0
        mayHaveBufferedFrames = false
        while !batch.isFull {
            var header: UnsafeMutablePointer<pcap_pkthdr>? = nil
            var data: UnsafePointer<UInt8>? = nil
            let rc = pcap_next_ex(handle, &header, &data)
            if rc == 0 { return appended }
            if rc < 0 {
                if rc == PCAP_ERROR_BREAK { return appended }
                throw DeviceError(.ioFailure,
                                  "libpcap device '\(name)': reading frames failed: \(String(cString: pcap_geterr(handle))); check that the interface still exists")
            }
            // pcap_next_ex returned 1, so both pointers are set.
            let length = Int(header!.pointee.caplen)
            if length < Int(header!.pointee.len) || length > pool.slotSize {
                counters.receiveDropsOversize &+= 1
                continue
            }
            guard let slot = pool.allocate() else {
                counters.receiveDropsPoolExhausted &+= 1
                continue
            }
            pool.buffer(slot).baseAddress!.copyMemory(from: data!, byteCount: length)
            batch.append(Frame(slot: slot, length: length))
            counters.receivedFrames &+= 1
            counters.receivedBytes &+= UInt64(length)
            appended += 1
        }
        mayHaveBufferedFrames = true
        return appended
    }

    public func transmit(_ batch: inout FrameBatch, now: Instant) throws {
        guard let handle else {
            counters.transmitDropsError &+= UInt64(batch.count)
            batch.releaseAll(to: pool)
            throw DeviceError(.ioFailure, "libpcap device '\(name)' is closed")
        }
        let limit = mtu + LinkInfo.ethernetHeaderLength
        for i in 0..<batch.count {
            let frame = batch[i]
            defer { pool.release(frame.slot) }
            guard Int(frame.length) <= limit else {
                counters.transmitDropsOversize &+= 1
                continue
            }
            let sent = pcap_inject(handle, pool.bytes(frame).baseAddress, Int(frame.length))
            if sent == Int32(frame.length) {
                counters.transmittedFrames &+= 1
                counters.transmittedBytes &+= UInt64(frame.length)
            } else {
                counters.transmitDropsError &+= 1
                if errorLogLimiter.allow(now: now) {
                    PcapLiveDevice.log.warning("libpcap inject failed",
                                               "name=\(name) len=\(frame.length) error=\(String(cString: pcap_geterr(handle)))")
                }
            }
        }
        batch.removeAll()
    }

    public func wait(until deadline: Instant, now: Instant) throws {
        guard handle != nil, !mayHaveBufferedFrames else { return }
        let remaining = deadline - now
        if remaining.value <= 0 { return }
        let timeoutMilliseconds: Int32
        if deadline >= Instant.distantFuture {
            timeoutMilliseconds = -1
        } else {
            // Round up so the loop does not wake just before its deadline.
            timeoutMilliseconds = Int32(clamping: (remaining.value + 999_999) / 1_000_000)
        }
        var entry = pollfd(fd: selectableFD, events: Int16(POLLIN), revents: 0)
        let rc = poll(&entry, 1, timeoutMilliseconds)
        if rc < 0 && errno != EINTR {
            throw DeviceError(.ioFailure, "libpcap device '\(name)': poll failed: \(errnoText(errno))")
        }
    }

    public func close() {
        guard let handle else { return }
        pcap_close(handle)
        self.handle = nil
        PcapLiveDevice.log.info("closed libpcap device", "name=\(name)")
    }
}
