#if canImport(Glibc)
import Glibc
#endif
import CapnetBase
import TLSEngine

/// The usage text of `capnet serve --kernel-listen`.
let kernelServeUsage = """
    usage: capnet serve --kernel-listen ADDRESS:PORT --cert FILE --key FILE [options]

    Serves a minimal HTTP/1.1 response over capnet's TLS 1.3 engine on a kernel TCP socket.
    Session tickets (psk_dhe_ke resumption) are on, with keys kept in memory only.

      --kernel-listen ADDRESS:PORT  IPv4 address and TCP port to listen on (port 0 picks a free one)
      --cert FILE                   PEM certificate chain, leaf first
      --key FILE                    PEM private key of the leaf (PKCS#8, EC or RSA)
      --keylog FILE                 append traffic secrets in the NSS key log format (off by default)
      --alpn LIST                   comma-separated ALPN protocols in preference order (default: http/1.1)
      --groups LIST                 comma-separated key exchange groups in preference order
                                    (x25519, secp256r1, secp384r1; default: all three in that order)
      --ciphers LIST                comma-separated TLS 1.3 suites in preference order
                                    (TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256)
      --sni NAME=CERT:KEY           an extra certificate and key for one SNI name (repeatable)

    """

/// The kernel serve instance `SIGINT`/`SIGTERM` stop; set once before the handlers are installed.
nonisolated(unsafe) private var runningKernelServer: KernelTLSServer?

/// Runs `capnet serve --kernel-listen ...` until SIGINT or SIGTERM and returns the exit status.
/// `arguments` are the options after the program name; a leading `serve` is skipped.
func runKernelServe(arguments rawArguments: [String]) -> Int32 {
    let arguments = rawArguments.first == "serve" ? Array(rawArguments.dropFirst()) : rawArguments
    let log = Logger(.main)
    var listen: String?
    var certificatePath: String?
    var keyPath: String?
    var keyLogPath: String?
    var alpn = ["http/1.1"]
    var groups: [NamedGroup]?
    var suites: [CipherSuite]?
    var sniEntries: [(name: String, cert: String, key: String)] = []

    var index = 0
    func value(_ option: String) -> String? {
        index += 1
        guard index < arguments.count else {
            printError("missing value for \(option)\n\(kernelServeUsage)")
            return nil
        }
        return arguments[index]
    }
    while index < arguments.count {
        let option = arguments[index]
        switch option {
        case "--kernel-listen": guard let v = value(option) else { return 2 }; listen = v
        case "--cert": guard let v = value(option) else { return 2 }; certificatePath = v
        case "--key": guard let v = value(option) else { return 2 }; keyPath = v
        case "--keylog": guard let v = value(option) else { return 2 }; keyLogPath = v
        case "--alpn": guard let v = value(option) else { return 2 }; alpn = v.split(separator: ",").map(String.init)
        case "--groups":
            guard let v = value(option) else { return 2 }
            var parsed: [NamedGroup] = []
            for name in v.split(separator: ",") {
                guard let group = [NamedGroup.x25519, .secp256r1, .secp384r1].first(where: { "\($0)" == name }) else {
                    printError("unknown group \(name): use x25519, secp256r1 or secp384r1")
                    return 2
                }
                parsed.append(group)
            }
            groups = parsed
        case "--ciphers":
            guard let v = value(option) else { return 2 }
            var parsed: [CipherSuite] = []
            for name in v.split(separator: ",") {
                let known: [CipherSuite] = [.tlsAES128GCMSHA256, .tlsAES256GCMSHA384, .tlsChaCha20Poly1305SHA256]
                guard let suite = known.first(where: { "\($0)" == name }) else {
                    printError("unknown cipher suite \(name)")
                    return 2
                }
                parsed.append(suite)
            }
            suites = parsed
        case "--sni":
            guard let v = value(option) else { return 2 }
            let parts = v.split(separator: "=", maxSplits: 1)
            let files = parts.count == 2 ? parts[1].split(separator: ":", maxSplits: 1) : []
            guard files.count == 2 else {
                printError("invalid --sni \(v): expected NAME=CERT:KEY")
                return 2
            }
            sniEntries.append((String(parts[0]), String(files[0]), String(files[1])))
        case "-h", "--help":
            print(kernelServeUsage, terminator: "")
            return 0
        default:
            printError("unknown option \(option)\n\(kernelServeUsage)")
            return 2
        }
        index += 1
    }

    guard let listen, let certificatePath, let keyPath else {
        printError("--kernel-listen, --cert and --key are required\n\(kernelServeUsage)")
        return 2
    }
    guard let colon = listen.lastIndex(of: ":"), let port = UInt16(listen[listen.index(after: colon)...]) else {
        printError("invalid --kernel-listen \(listen): expected IPv4ADDRESS:PORT")
        return 2
    }
    let address = String(listen[..<colon])

    do {
        let vault = try KeyVault(storage: .memory, profile: .development)
        func load(certificate: String, key: String, id: String) throws -> CertifiedKey {
            let chain = try CertificateChain(pem: try readTextFile(certificate))
            let handle = try vault.importPEM(try readTextFile(key), purpose: .tlsServer, id: id)
            return try CertifiedKey(chain: chain, key: handle)
        }
        let defaultCertificate = try load(certificate: certificatePath, key: keyPath, id: "default")
        var byName: [String: CertifiedKey] = [:]
        for (number, entry) in sniEntries.enumerated() {
            byName[entry.name] = try load(certificate: entry.cert, key: entry.key, id: "sni-\(number)")
        }
        var configuration = TLSServerConfiguration(
            certificates: CertificateSource(.init(defaultCertificate: defaultCertificate, byName: byName)))
        configuration.applicationProtocols = alpn
        configuration.sessionTickets = SessionTicketKeys(clock: MonotonicTimeSource())
        if let groups { configuration.groups = groups }
        if let suites { configuration.cipherSuites = suites }
        if let keyLogPath { configuration.keyLog = try KeyLogFile(path: keyLogPath) }

        let server = try KernelTLSServer(configuration: configuration, address: address, port: port)
        runningKernelServer = server
        signal(SIGINT) { _ in runningKernelServer?.stop() }
        signal(SIGTERM) { _ in runningKernelServer?.stop() }
        signal(SIGPIPE, SIG_IGN)
        print("listening on \(address):\(server.port)")
        fflush(stdout)
        server.run()
        log.info("kernel TLS server stopped", "port=\(server.port)")
        return 0
    } catch {
        printError("capnet serve: \(error)")
        return 1
    }
}

private func printError(_ message: String) {
    fputs(message + "\n", stderr)
}

private func readTextFile(_ path: String) throws -> String {
    let file = fopen(path, "r")
    guard let file else { throw KernelSocketError("open \(path)", errno) }
    defer { fclose(file) }
    var contents: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        if count == 0 { break }
        contents.append(contentsOf: chunk[0..<count])
    }
    return String(decoding: contents, as: UTF8.self)
}
