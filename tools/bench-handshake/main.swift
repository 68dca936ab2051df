#if canImport(Glibc)
import Glibc
#endif
import CLibSSL

/// Prints one result line; scripts read these lines, so their format stays stable.
func report(_ line: String) {
    print(line)
    fflush(stdout)
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

/// Formats with two decimals, as the result lines need no more.
func format(_ value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    let fraction = abs(hundredths % 100)
    return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
}

/// Runs full or resumed handshakes in alternating rounds and prints per-round and median results.
func runHandshakes(_ servers: [any BenchServer], resumed: Bool, options: BenchOptions, deadline: Int64) throws {
    let kind = resumed ? "resumed" : "full"
    let clientContext = try LibSSLContexts.client(suite: "TLS_AES_128_GCM_SHA256")
    defer { SSL_CTX_free(clientContext) }
    var perServer: [String: [Double]] = [:]
    var ratios: [Double] = []
    for round in 0..<options.rounds {
        guard ThreadClock.wall() < deadline else { report("# \(kind): wall-clock bound reached after \(round) rounds"); break }
        let order = round % 2 == 0 ? servers : servers.reversed()
        var thisRound: [String: Double] = [:]
        for server in order {
            var bench = HandshakeBench(clientContext: clientContext, resumed: resumed)
            defer { bench.forgetSession() }
            let tally = try bench.run(server, count: options.handshakes)
            thisRound[server.name] = tally.microsecondsPerOperation
            perServer[server.name, default: []].append(tally.microsecondsPerOperation)
            report("\(kind) round=\(round + 1) server=\(server.name) handshakes=\(tally.count) server_us_per_handshake=\(format(tally.microsecondsPerOperation))")
        }
        if let ours = thisRound["capnet"], let theirs = thisRound["libssl"], theirs > 0 { ratios.append(ours / theirs) }
    }
    for server in servers {
        let values = perServer[server.name] ?? []
        report("\(kind) summary server=\(server.name) median_us=\(format(median(values))) min_us=\(format(values.min() ?? 0)) max_us=\(format(values.max() ?? 0))")
    }
    if !ratios.isEmpty {
        report("\(kind) summary ratio capnet/libssl median=\(format(median(ratios))) min=\(format(ratios.min()!)) max=\(format(ratios.max()!))")
    }
}

func runRecords(_ servers: [any BenchServer], options: BenchOptions) throws {
    for (label, suite) in [("aes-128-gcm", "TLS_AES_128_GCM_SHA256"), ("chacha20-poly1305", "TLS_CHACHA20_POLY1305_SHA256")] {
        let clientContext = try LibSSLContexts.client(suite: suite)
        defer { SSL_CTX_free(clientContext) }
        for server in servers {
            let (seal, open) = try RecordBench(clientContext: clientContext).run(server, count: options.records)
            let bytes = Double(RecordBench.recordLength)
            let sealRate = bytes / (Double(seal.nanoseconds) / Double(seal.count)) * 1_000  // MB/s (10^6 bytes)
            let openRate = bytes / (Double(open.nanoseconds) / Double(open.count)) * 1_000
            report("records suite=\(label) server=\(server.name) records=\(seal.count) seal_MBps=\(format(sealRate)) open_MBps=\(format(openRate))")
        }
    }
}

func runFloor(options: BenchOptions) throws {
    let floor = try PrimitiveFloor(keyPath: options.keyPath)
    var total = 0.0
    for (part, microseconds) in try floor.measure(iterations: options.floorIterations) {
        let share = microseconds * Double(part.perHandshake)
        total += share
        report("floor part=\"\(part.name)\" us_per_op=\(format(microseconds)) per_handshake=\(part.perHandshake) us_per_handshake=\(format(share))")
    }
    report("floor summary us_per_handshake=\(format(total))")
}

do {
    let options = try BenchOptions(arguments: Array(CommandLine.arguments.dropFirst()))
    let deadline = ThreadClock.wall() + Int64(options.maxSeconds) * ThreadClock.nanosecondsPerSecond
    var servers: [any BenchServer] = []
    if options.servers.contains("capnet") {
        servers.append(try CapnetServer(certificatePath: options.certificatePath, keyPath: options.keyPath))
    }
    if options.servers.contains("libssl") {
        servers.append(try LibSSLServer(certificatePath: options.certificatePath, keyPath: options.keyPath))
    }
    if options.parts.contains("full") { try runHandshakes(servers, resumed: false, options: options, deadline: deadline) }
    if options.parts.contains("resumed") { try runHandshakes(servers, resumed: true, options: options, deadline: deadline) }
    if options.parts.contains("records") { try runRecords(servers, options: options) }
    if options.parts.contains("floor") { try runFloor(options: options) }
} catch {
    fputs("bench-handshake: \(error)\n", stderr)
    exit(1)
}
