import CapnetBase

/// Applies option values one by one, then checks how they combine.
struct OptionValues {
    private var options: LoadOptions
    private var concurrency: Int?
    private var rate: Double?
    private var maxInFlight: Int?
    private var durationGiven = false
    private var insecure = false
    private var caFile: String?

    init(options: LoadOptions) { self.options = options }

    mutating func apply(name: String, value: String) throws(UsageError) {
        switch name {
        case "--mode":
            guard let mode = LoadOptions.Mode(rawValue: value) else {
                throw invalid(value, name, "one of " + LoadOptions.Mode.allCases.map(\.rawValue).joined(separator: ", "))
            }
            options.mode = mode
        case "--concurrency":
            concurrency = try integer(value, name, Defaults.concurrencyRange)
        case "--rate":
            rate = try number(value, name, Defaults.rateRange, unit: "connections per second")
        case "--max-in-flight":
            maxInFlight = try integer(value, name, Defaults.maxInFlightRange)
        case "--threads":
            options.threads = try integer(value, name, Defaults.threadsRange)
        case "--duration":
            options.duration = try seconds(value, name, Defaults.durationRange)
            durationGiven = true
        case "--count":
            options.count = try integer(value, name, Defaults.countRange)
        case "--timeout":
            options.connectionTimeout = try seconds(value, name, Defaults.timeoutRange)
        case "--group":
            guard let group = LoadOptions.Group.allCases.first(where: { $0.rawValue.lowercased() == value.lowercased() }) else {
                throw invalid(value, name, "one of x25519, P-256, P-384")
            }
            options.group = group
        case "--suite":
            options.cipherSuites = try cipherSuites(value, name)
        case "--alpn":
            options.alpn = try alpnNames(value, name)
        case "--sni":
            options.serverName = value == "none" ? nil : try serverName(value, name)
        case "--cacert":
            guard !value.isEmpty else { throw invalid(value, name, "the path of a PEM file") }
            caFile = value
        case "--insecure":
            insecure = true
        case "--allow-any-target":
            options.allowAnyTarget = true
        case "--json":
            options.json = true
        default:
            throw UsageError("unknown option '\(name)'. Run capnet-load --help for the list of options.")
        }
    }

    /// Checks combinations and fills in defaults that depend on other options.
    func finish() throws(UsageError) -> LoadOptions {
        var result = options
        if let rate {
            if concurrency != nil {
                throw UsageError("--rate and --concurrency exclude each other: --rate sets an open loop, --concurrency a closed loop")
            }
            result.pacing = .rate(perSecond: rate, maxInFlight: maxInFlight ?? Defaults.maxInFlight)
        } else {
            if maxInFlight != nil {
                throw UsageError("--max-in-flight applies only with --rate; in a closed loop, --concurrency sets the connections in flight")
            }
            result.pacing = .concurrency(concurrency ?? Defaults.concurrency)
        }
        if case .concurrency(let limit) = result.pacing, result.threads > limit {
            throw UsageError("--threads \(result.threads) is more than --concurrency \(limit): each thread needs at least one connection")
        }
        if !durationGiven && result.count != nil {
            result.duration = Defaults.durationWithCount
        }
        if insecure && caFile != nil {
            throw UsageError("--insecure and --cacert exclude each other: choose whether to verify the certificate")
        }
        if insecure { result.verification = .none }
        if let caFile { result.verification = .caFile(caFile) }
        return result
    }

    // MARK: Value parsers

    private func invalid(_ value: String, _ name: String, _ expected: String) -> UsageError {
        UsageError("invalid value '\(value)' for \(name): expected \(expected)")
    }

    private func integer(_ value: String, _ name: String, _ range: ClosedRange<Int>) throws(UsageError) -> Int {
        let expected = "a whole number from \(range.lowerBound) to \(range.upperBound)"
        guard !value.isEmpty, value.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(value),
              range.contains(number) else {
            throw invalid(value, name, expected)
        }
        return number
    }

    private func number(_ value: String, _ name: String, _ range: ClosedRange<Double>,
                        unit: String) throws(UsageError) -> Double {
        let expected = "\(unit), a number from \(range.lowerBound) to \(range.upperBound)"
        guard !value.isEmpty, value.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              let number = Double(value), range.contains(number) else {
            throw invalid(value, name, expected)
        }
        return number
    }

    private func seconds(_ value: String, _ name: String, _ range: ClosedRange<Double>) throws(UsageError) -> Nanoseconds {
        let seconds = try number(value, name, range, unit: "seconds")
        return Nanoseconds(Int64((seconds * 1e9).rounded()))
    }

    private func cipherSuites(_ value: String, _ name: String) throws(UsageError) -> String {
        let names = value.split(whereSeparator: { $0 == ":" || $0 == "," }).map(String.init)
        guard !names.isEmpty else {
            throw invalid(value, name, "TLS 1.3 suite names such as TLS_AES_128_GCM_SHA256")
        }
        for suite in names where !LoadOptions.knownCipherSuites.contains(suite) {
            throw UsageError("unknown TLS 1.3 cipher suite '\(suite)' in \(name): expected one of \(LoadOptions.knownCipherSuites.joined(separator: ", "))")
        }
        return names.joined(separator: ":")
    }

    private func alpnNames(_ value: String, _ name: String) throws(UsageError) -> [String] {
        if value == "none" { return [] }
        let names = value.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        for protocolName in names {
            guard LoadOptions.alpnNameLengthRange.contains(protocolName.utf8.count),
                  protocolName.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
                throw invalid(value, name, "comma-separated protocol names of 1 to 255 ASCII characters, such as h2,http/1.1, or none")
            }
        }
        return names
    }

    private func serverName(_ value: String, _ name: String) throws(UsageError) -> String {
        let allowed = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-"
        guard !value.isEmpty, value.utf8.count <= 253, value.allSatisfy({ allowed.contains($0) }) else {
            throw invalid(value, name, "a DNS host name (letters, digits, '-' and '.'), or none")
        }
        return value
    }
}
