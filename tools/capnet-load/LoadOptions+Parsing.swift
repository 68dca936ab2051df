import CapnetBase

/// A parsed command line: either a request for help or a run.
enum LoadCommand: Equatable {
    case help
    case run(LoadOptions)
}

extension LoadOptions {
    /// TLS 1.3 cipher suites OpenSSL 3.0 implements (RFC 8446 section B.4).
    static let knownCipherSuites = [
        "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
        "TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256",
    ]
    /// An ALPN protocol name is 1 to 255 bytes (RFC 7301 section 3.1).
    static let alpnNameLengthRange = 1...255

    /// Parses the arguments after the program name. Options take their value
    /// as the next argument or after `=`; exactly one URL is expected.
    static func parse(_ arguments: [String]) throws(UsageError) -> LoadCommand {
        var values: [(name: String, value: String?)] = []
        var urls: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            guard argument.hasPrefix("-") else {
                urls.append(argument)
                continue
            }
            if argument == "-h" || argument == "--help" { return .help }

            var name = argument
            var value: String?
            if let equals = argument.firstIndex(of: "=") {
                name = String(argument[..<equals])
                value = String(argument[argument.index(after: equals)...])
            }
            guard let option = Self.optionTable.first(where: { $0.name == name }) else {
                throw UsageError("unknown option '\(name)'. Run capnet-load --help for the list of options.")
            }
            if option.takesValue && value == nil {
                guard index < arguments.count else {
                    throw UsageError("missing value for \(name): expected \(option.valueName ?? "a value")")
                }
                value = arguments[index]
                index += 1
            } else if !option.takesValue, let value {
                throw UsageError("option \(name) takes no value, but was given '\(value)'")
            }
            values.append((name, value))
        }

        guard urls.count == 1 else {
            if urls.isEmpty {
                throw UsageError("missing target URL, for example https://127.0.0.1:4433/. Run capnet-load --help for usage.")
            }
            throw UsageError("expected one target URL, got \(urls.count): \(urls.joined(separator: " "))")
        }
        var options = LoadOptions(target: try TargetURL(parsing: urls[0]))
        var parser = OptionValues(options: options)
        for (name, value) in values {
            try parser.apply(name: name, value: value ?? "")
        }
        options = try parser.finish()
        return .run(options)
    }

    /// Options of the command line, in the order `--help` lists them.
    static let optionTable: [OptionDescription] = [
        .init("--mode", "full|resumed|get|get-resumed",
              "What each connection does: a full handshake; a resumed handshake (one full handshake per thread first obtains the session ticket); a full handshake plus one HTTP/1.1 GET of the URL's path; or a resumed handshake plus one GET. Default: full."),
        .init("--concurrency", "N",
              "Closed loop: connections kept in flight at once, across all threads. Default: \(Defaults.concurrency). Range: \(Defaults.concurrencyRange.lowerBound) to \(Defaults.concurrencyRange.upperBound)."),
        .init("--rate", "PER_SECOND",
              "Open loop: new connections per second, across all threads, whatever the server's speed. Latency counts from each connection's scheduled start. Replaces --concurrency. Range: \(Defaults.rateRange.lowerBound) to \(Int(Defaults.rateRange.upperBound))."),
        .init("--max-in-flight", "N",
              "Open loop only: connections open at once, across all threads; a start that would exceed it is skipped and counted as missed. Default: \(Defaults.maxInFlight). Range: \(Defaults.maxInFlightRange.lowerBound) to \(Defaults.maxInFlightRange.upperBound)."),
        .init("--threads", "N",
              "Worker threads, each with its own event loop and sockets. Default: \(Defaults.threads). Range: \(Defaults.threadsRange.lowerBound) to \(Defaults.threadsRange.upperBound)."),
        .init("--duration", "SECONDS",
              "Time during which new connections start; open connections then get up to --timeout to finish. Default: \(Int(Defaults.duration.seconds)) s, or \(Int(Defaults.durationWithCount.seconds)) s when --count is given. Maximum: \(Int(Defaults.durationRange.upperBound)) s."),
        .init("--count", "N",
              "Connections to start in total (excluding the priming handshakes of the resumed modes); the run ends when they have finished or --duration has passed. Default: no count limit. Maximum: \(Defaults.countRange.upperBound)."),
        .init("--timeout", "SECONDS",
              "Time one connection may take from connect to its last byte before it counts as a timeout. Default: \(Int(Defaults.connectionTimeout.seconds)) s. Maximum: \(Int(Defaults.timeoutRange.upperBound)) s."),
        .init("--group", "x25519|P-256|P-384",
              "The one key exchange group offered in the key_share. Default: x25519."),
        .init("--suite", "NAME[:NAME...]",
              "TLS 1.3 cipher suites offered, in order: \(knownCipherSuites.joined(separator: ", ")). Default: OpenSSL's list (TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256 in OpenSSL 3.0)."),
        .init("--alpn", "NAME[,NAME...]|none",
              "ALPN protocol names offered. Default: \(Defaults.alpn.joined(separator: ",")). 'none' sends no ALPN extension. The GET modes speak HTTP/1.1 only, so offer http/1.1 with them."),
        .init("--sni", "NAME|none",
              "Server name indication sent. Default: the URL's host, or none when the host is an IP address. The certificate is checked against the URL's host either way."),
        .init("--cacert", "FILE",
              "PEM file of CA certificates that the server certificate must chain to. Default: the system's CA certificates. The certificate must also name the URL's host."),
        .init("--insecure", nil,
              "Skip certificate verification (for measuring only; the handshake still runs in full)."),
        .init("--allow-any-target", nil,
              "Allow a target outside loopback (127.0.0.0/8, ::1) and the documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24). Only for hosts you own."),
        .init("--json", nil,
              "Print the summary as one JSON object on standard output, with no progress line."),
        .init("-h, --help", nil, "Print this help and exit."),
    ]
}

/// One command line option as `--help` documents it.
struct OptionDescription: Sendable {
    let name: String
    /// What the value looks like, or nil for a flag.
    let valueName: String?
    let summary: String

    init(_ name: String, _ valueName: String?, _ summary: String) {
        self.name = name
        self.valueName = valueName
        self.summary = summary
    }

    var takesValue: Bool { valueName != nil }
}
