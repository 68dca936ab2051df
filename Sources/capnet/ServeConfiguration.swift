import CapnetBase
import NIC
import NetStack

/// Everything `capnet serve` was asked to do, validated.
struct ServeConfiguration {
    /// The frame device to run on: exactly one of `--tap` and `--virtio`.
    enum DeviceChoice {
        case tap(name: String)
        case virtio(pciAddress: String)
    }

    var device: DeviceChoice
    var address: IPv4Network
    var gateway: IPv4Address?
    var macAddress: MACAddress?
    var mtu: Int?
    var capturePath: String?
    var impairment: String?
    var udpEchoPort: UInt16?
    var logLevel: LogLevel

    /// Ethernet payload sizes accepted for `--mtu`: RFC 791 requires every
    /// host to accept 576-byte datagrams, and 9000 is the usual jumbo frame.
    static let mtuRange = 576...9000

    static let specs: [OptionSpec] = [
        OptionSpec(name: "tap", kind: .value(placeholder: "NAME"),
                   help: "Tap device to run on, such as tap0. It must exist in capnet's network namespace "
                       + "(create it with 'ip tuntap add dev NAME mode tap'). Required."),
        OptionSpec(name: "virtio", kind: .value(placeholder: "PCI_ADDRESS"),
                   help: "Run on a virtio-net PCI device bound to vfio-pci, such as 0000:00:03.0, in place "
                       + "of a tap (needs root and an IOMMU). Used inside the QEMU image."),
        OptionSpec(name: "address", kind: .value(placeholder: "CIDR"),
                   help: "The stack's IPv4 address and prefix length, such as 192.0.2.2/24. Required."),
        OptionSpec(name: "gateway", kind: .value(placeholder: "IP"),
                   help: "Default gateway for destinations outside the subnet; it must be inside the subnet. "
                       + "Default: none (off-subnet traffic is dropped)."),
        OptionSpec(name: "mac", kind: .value(placeholder: "MAC"),
                   help: "The stack's Ethernet address, such as 02:00:00:00:00:02. "
                       + "Default: a random locally administered address."),
        OptionSpec(name: "mtu", kind: .value(placeholder: "BYTES"),
                   help: "Largest IPv4 packet on the link, in bytes (\(mtuRange.lowerBound) to "
                       + "\(mtuRange.upperBound)). Default: the tap device's MTU."),
        OptionSpec(name: "capture", kind: .value(placeholder: "FILE"),
                   help: "Write every received and sent frame to FILE: pcapng (with direction) when the name "
                       + "ends in .pcapng, else pcap with nanosecond timestamps. Flushed after every batch."),
        OptionSpec(name: "impair", kind: .value(placeholder: "SPEC"),
                   help: "Inject seeded faults into the frames the stack sends, as "
                       + "loss=P,dup=P,reorder=P,delay=MS,seed=N (probabilities 0 to 1 or percentages, delay in "
                       + "milliseconds; any subset). Prefix a key with rx. to impair received frames instead, as in "
                       + "rx.loss=0.1. Default: none."),
        OptionSpec(name: "udp-echo-port", kind: .value(placeholder: "PORT"),
                   help: "Run a UDP echo service (RFC 862) on PORT. Default: off."),
        OptionSpec(name: "log-level", kind: .value(placeholder: "LEVEL"),
                   help: "Minimum level logged to standard error: trace, debug, info, notice, warning "
                       + "or error. Default: info."),
        OptionSpec(name: "help", kind: .flag, help: "Print this help and exit."),
    ]

    static let usage = """
        Usage: capnet serve (--tap NAME | --virtio PCI_ADDRESS) --address CIDR [options]

        Runs the userspace network stack on a device until SIGINT or SIGTERM,
        then flushes the capture and exits.

        Options:
        """

    init(parsing arguments: [String]) throws {
        let options = try OptionParser.parse(arguments, specs: Self.specs, command: "serve")

        switch (options.value("tap"), options.value("virtio")) {
        case (let tap?, nil):
            device = .tap(name: tap)
        case (nil, let pciAddress?):
            guard Self.isPCIAddress(pciAddress) else {
                throw UsageError("invalid --virtio '\(pciAddress)': expected a PCI address such as 0000:00:03.0 "
                    + "(see 'lspci -D')")
            }
            device = .virtio(pciAddress: pciAddress)
        case (.some, .some):
            throw UsageError("--tap and --virtio both given: choose one device")
        case (nil, nil):
            throw UsageError("missing device: give --tap NAME or --virtio PCI_ADDRESS (see 'capnet serve --help')")
        }

        guard let addressText = options.value("address") else {
            throw UsageError("missing --address CIDR, such as --address 192.0.2.2/24")
        }
        guard let network = IPv4Network(addressText), network.prefixLength <= 30 else {
            throw UsageError("invalid --address '\(addressText)': expected an IPv4 address with a prefix "
                + "length of 30 or less, such as 192.0.2.2/24")
        }
        guard network.address != network.networkAddress, network.address != network.broadcastAddress else {
            throw UsageError("invalid --address '\(addressText)': that is the subnet's network or broadcast "
                + "address; pick a host address inside \(network.networkAddress)/\(network.prefixLength)")
        }
        address = network

        if let gatewayText = options.value("gateway") {
            guard let gateway = IPv4Address(gatewayText) else {
                throw UsageError("invalid --gateway '\(gatewayText)': expected an IPv4 address such as 192.0.2.1")
            }
            guard network.contains(gateway), gateway != network.address else {
                throw UsageError("invalid --gateway \(gateway): it must be another host inside \(network)")
            }
            self.gateway = gateway
        }

        if let macText = options.value("mac") {
            guard let mac = MACAddress(macText) else {
                throw UsageError("invalid --mac '\(macText)': expected six hex octets such as 02:00:00:00:00:02")
            }
            guard !mac.isMulticast, mac != .zero else {
                throw UsageError("invalid --mac \(mac): a multicast or all-zero address cannot be a station "
                    + "address; use a unicast one such as 02:00:00:00:00:02")
            }
            macAddress = mac
        }

        if let mtuText = options.value("mtu") {
            guard let mtu = Int(mtuText), Self.mtuRange.contains(mtu) else {
                throw UsageError("invalid --mtu '\(mtuText)': expected a whole number of bytes from "
                    + "\(Self.mtuRange.lowerBound) to \(Self.mtuRange.upperBound)")
            }
            self.mtu = mtu
        }

        capturePath = options.value("capture")
        impairment = options.value("impair")

        if let portText = options.value("udp-echo-port") {
            udpEchoPort = try Self.parsePort(portText, option: "udp-echo-port")
        }

        if let levelText = options.value("log-level") {
            guard let level = LogLevel(name: levelText) else {
                let names = LogLevel.allCases.map(\.description).joined(separator: ", ")
                throw UsageError("invalid --log-level '\(levelText)': expected one of \(names)")
            }
            logLevel = level
        } else {
            logLevel = .info
        }
    }

    /// Accepts the sysfs form `DDDD:BB:DD.F` in hexadecimal, as `lspci -D` prints it.
    static func isPCIAddress(_ text: String) -> Bool {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2 else { return false }
        let slot = parts[2].split(separator: ".", omittingEmptySubsequences: false)
        guard slot.count == 2, slot[0].count == 2, slot[1].count == 1 else { return false }
        return [parts[0], parts[1], slot[0], slot[1]].allSatisfy { UInt32($0, radix: 16) != nil }
    }

    static func parsePort(_ text: String, option: String) throws -> UInt16 {
        guard let port = UInt16(text), port != 0 else {
            throw UsageError("invalid --\(option) '\(text)': expected a port number from 1 to 65535")
        }
        return port
    }
}
