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
    var virtioWaitMode: VirtioNetDevice.WaitMode = .interrupt
    var address: IPv4Network
    var gateway: IPv4Address?
    var macAddress: MACAddress?
    var mtu: Int?
    var capturePath: String?
    var impairment: String?
    var captureTLSSecrets = false
    var udpEchoPort: UInt16?
    var tcpEchoPort: UInt16?
    var tcpDiscardPort: UInt16?
    var tcpCongestionControl: TCPCongestionControlAlgorithm = .cubic
    var logLevel: LogLevel

    /// The Web UI runs when a state directory is given.
    var stateDirectory: String?
    var domains: [String] = []
    var httpsPort: UInt16 = 443
    var httpPort: UInt16 = 80
    var certificatePath: String?
    var privateKeyPath: String?
    var keyLogPath: String?
    var profile: ServiceProfile = .development
    /// Set when an ACME CA issues the HTTPS certificate.
    var acme: ACMESettings?

    enum ServiceProfile: String {
        /// Local runs: the development CA may issue the server certificate.
        case development
        /// Real deployments: the certificate must come from --cert/--key or ACME.
        case production
    }

    /// Ethernet payload sizes accepted for `--mtu`: RFC 791 requires every
    /// host to accept 576-byte datagrams, and 9000 is the usual jumbo frame.
    static let mtuRange = 576...9000

    static let specs: [OptionSpec] = baseSpecs + ACMESettings.specs + [
        OptionSpec(name: "log-level", kind: .value(placeholder: "LEVEL"),
                   help: "Minimum level logged to standard error: trace, debug, info, notice, warning "
                       + "or error. Default: info."),
        OptionSpec(name: "help", kind: .flag, help: "Print this help and exit."),
    ]

    private static let baseSpecs: [OptionSpec] = [
        OptionSpec(name: "tap", kind: .value(placeholder: "NAME"),
                   help: "Tap device to run on, such as tap0. It must exist in capnet's network namespace "
                       + "(create it with 'ip tuntap add dev NAME mode tap'). Required."),
        OptionSpec(name: "virtio", kind: .value(placeholder: "PCI_ADDRESS"),
                   help: "Run on a virtio-net PCI device bound to vfio-pci, such as 0000:00:03.0, in place "
                       + "of a tap (needs root and an IOMMU). Used inside the QEMU image."),
        OptionSpec(name: "virtio-wait", kind: .value(placeholder: "MODE"),
                   help: "How the virtio-net driver waits for frames: interrupt (sleep on the device's "
                       + "interrupt) or busy-poll (spin on the used ring; one core stays busy). Default: interrupt."),
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
        OptionSpec(name: "capture-tls-secrets", kind: .flag,
                   help: "Embed the TLS secrets of the Web UI's connections, and of those to the ACME CA, in the "
                       + "--capture file (pcapng only) as Decryption Secrets Blocks, so Wireshark decrypts it with no key file. "
                       + "Anyone with the capture can then read the traffic. Default: off."),
        OptionSpec(name: "impair", kind: .value(placeholder: "SPEC"),
                   help: "Inject seeded faults into the frames the stack sends, as "
                       + "loss=P,dup=P,reorder=P,delay=MS,seed=N (probabilities 0 to 1 or percentages, delay in "
                       + "milliseconds; any subset). Prefix a key with rx. to impair received frames instead, as in "
                       + "rx.loss=0.1. Default: none."),
        OptionSpec(name: "udp-echo-port", kind: .value(placeholder: "PORT"),
                   help: "Run a UDP echo service (RFC 862) on PORT. Default: off."),
        OptionSpec(name: "tcp-echo-port", kind: .value(placeholder: "PORT"),
                   help: "Run a TCP echo service (RFC 862) on PORT. Default: off."),
        OptionSpec(name: "tcp-discard-port", kind: .value(placeholder: "PORT"),
                   help: "Run a TCP discard service (RFC 863) on PORT. Default: off."),
        OptionSpec(name: "tcp-congestion", kind: .value(placeholder: "ALGORITHM"),
                   help: "TCP congestion control: cubic (RFC 9438) or newreno (RFC 6582). Default: cubic."),
        OptionSpec(name: "state-dir", kind: .value(placeholder: "DIR"),
                   help: "Directory for everything that survives a restart: keys (mode 0600), certificates, "
                       + "the admin token and the development CA. Giving it turns on the Web UI over HTTPS."),
        OptionSpec(name: "domain", kind: .repeated(placeholder: "NAME"),
                   help: "A DNS name the HTTPS certificate must cover. The development CA's certificate "
                       + "covers the stack's address too; an ACME certificate covers the --domain names only, "
                       + "or the address when none is given."),
        OptionSpec(name: "https-port", kind: .value(placeholder: "PORT"),
                   help: "TCP port of the Web UI over TLS. Default: 443."),
        OptionSpec(name: "http-port", kind: .value(placeholder: "PORT"),
                   help: "TCP port that serves ACME http-01 tokens and redirects everything else to HTTPS. "
                       + "Default: 80."),
        OptionSpec(name: "cert", kind: .value(placeholder: "FILE"),
                   help: "PEM certificate chain for HTTPS, leaf first (with --key). Default: a certificate from "
                       + "the development CA in the state directory (development profile only)."),
        OptionSpec(name: "key", kind: .value(placeholder: "FILE"),
                   help: "PEM private key of the --cert leaf; it is imported into the key vault."),
        OptionSpec(name: "keylog", kind: .value(placeholder: "FILE"),
                   help: "Append TLS secrets in the NSS key log format (SSLKEYLOGFILE) for Wireshark. "
                       + "Anyone with this file can decrypt the traffic. Default: off."),
        OptionSpec(name: "profile", kind: .value(placeholder: "PROFILE"),
                   help: "development or production. Production rejects the development key source and CA. "
                       + "Default: development."),
    ]

    static let usage = """
        Usage: capnet serve (--tap NAME | --virtio PCI_ADDRESS) --address CIDR [options]

        Runs the userspace network stack on a device until SIGINT or SIGTERM,
        then flushes the capture and exits. For the TLS engine on a kernel
        socket instead, see 'capnet serve --kernel-listen ADDRESS:PORT --help'.

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

        if let modeText = options.value("virtio-wait") {
            guard case .virtio = device else {
                throw UsageError("--virtio-wait applies to --virtio devices only")
            }
            guard let mode = VirtioNetDevice.WaitMode(rawValue: modeText) else {
                throw UsageError("invalid --virtio-wait '\(modeText)': expected interrupt or busy-poll")
            }
            virtioWaitMode = mode
        }

        if let mtuText = options.value("mtu") {
            guard let mtu = Int(mtuText), Self.mtuRange.contains(mtu) else {
                throw UsageError("invalid --mtu '\(mtuText)': expected a whole number of bytes from "
                    + "\(Self.mtuRange.lowerBound) to \(Self.mtuRange.upperBound)")
            }
            self.mtu = mtu
        }

        capturePath = options.value("capture")
        captureTLSSecrets = options.has("capture-tls-secrets")
        if captureTLSSecrets && !(capturePath?.hasSuffix(".pcapng") ?? false) {
            throw UsageError("--capture-tls-secrets needs a pcapng capture: give --capture FILE.pcapng")
        }
        impairment = options.value("impair")

        if let portText = options.value("udp-echo-port") {
            udpEchoPort = try Self.parsePort(portText, option: "udp-echo-port")
        }

        if let portText = options.value("tcp-echo-port") {
            tcpEchoPort = try Self.parsePort(portText, option: "tcp-echo-port")
        }
        if let portText = options.value("tcp-discard-port") {
            tcpDiscardPort = try Self.parsePort(portText, option: "tcp-discard-port")
        }
        if tcpEchoPort != nil && tcpEchoPort == tcpDiscardPort {
            throw UsageError("--tcp-echo-port and --tcp-discard-port are both \(tcpEchoPort!): give them different ports")
        }
        if let algorithmText = options.value("tcp-congestion") {
            guard let algorithm = TCPCongestionControlAlgorithm(rawValue: algorithmText.lowercased()) else {
                throw UsageError("invalid --tcp-congestion '\(algorithmText)': expected cubic or newreno")
            }
            tcpCongestionControl = algorithm
        }

        stateDirectory = options.value("state-dir")
        domains = options.all("domain")
        for domain in domains where !Self.isHostName(domain) {
            throw UsageError("invalid --domain '\(domain)': expected a DNS name such as capnet.example "
                + "(letters, digits and hyphens in dot-separated labels)")
        }
        if let portText = options.value("https-port") {
            httpsPort = try Self.parsePort(portText, option: "https-port")
        }
        if let portText = options.value("http-port") {
            httpPort = try Self.parsePort(portText, option: "http-port")
        }
        if httpsPort == httpPort {
            throw UsageError("--https-port and --http-port are both \(httpPort): give them different ports")
        }
        certificatePath = options.value("cert")
        privateKeyPath = options.value("key")
        if (certificatePath == nil) != (privateKeyPath == nil) {
            throw UsageError("--cert and --key go together: give both, or neither to use the development CA")
        }
        keyLogPath = options.value("keylog")
        if let profileText = options.value("profile") {
            guard let profile = ServiceProfile(rawValue: profileText.lowercased()) else {
                throw UsageError("invalid --profile '\(profileText)': expected development or production")
            }
            self.profile = profile
        }
        acme = try ACMESettings.parse(options, profile: profile, hasCertificateFile: certificatePath != nil,
                                      network: network, gateway: gateway)
        let webOptions = ["capture-tls-secrets", "domain", "https-port", "http-port", "cert", "key", "keylog", "profile",
                          "acme", "acme-directory", "dns-server"]
        if stateDirectory == nil, let given = webOptions.first(where: { options.has($0) }) {
            throw UsageError("--\(given) configures the Web UI, which needs --state-dir DIR")
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

    /// Returns whether `text` is a DNS name in the LDH form of RFC 1123 §2.1,
    /// at most 253 octets.
    static func isHostName(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 253 else { return false }
        return text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            guard (1...63).contains(label.count), label.first != "-", label.last != "-" else { return false }
            return label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
    }

    static func parsePort(_ text: String, option: String) throws -> UInt16 {
        guard let port = UInt16(text), port != 0 else {
            throw UsageError("invalid --\(option) '\(text)': expected a port number from 1 to 65535")
        }
        return port
    }
}
