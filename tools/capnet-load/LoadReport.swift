import CapnetBase
import Foundation

/// The summary of a run as `--json` prints it; the text report shows the
/// same fields. Keys are written in snake case.
struct LoadSummary: Codable, Equatable {
    struct Latency: Codable, Equatable {
        var p50: Double
        var p90: Double
        var p99: Double
        var max: Double
        var mean: Double
        var count: Int
    }

    struct Errors: Codable, Equatable {
        struct Detail: Codable, Equatable {
            var kind: LoadFailure.Kind
            var detail: String
            var count: Int
        }
        var total: Int
        var connectRefused: Int
        var timeout: Int
        var alertReceived: Int
        var verifyFailed: Int
        var other: Int
        /// Each distinct failure with its count, most frequent first.
        var details: [Detail]
    }

    var target: String
    var address: String
    var mode: String
    var threads: Int
    var concurrency: Int?
    var ratePerSecond: Double?
    var maxInFlight: Int?
    var elapsedSeconds: Double
    var connectionsStarted: Int
    var handshakes: Int
    var sessionsReused: Int
    var primingHandshakes: Int
    var requests: Int
    var missedStarts: Int
    var handshakesPerSecond: Double
    var requestsPerSecond: Double
    /// Milliseconds from the start of connect to handshake done.
    var handshakeLatencyMs: Latency?
    /// Milliseconds from handshake done to the last byte of the response.
    var requestLatencyMs: Latency?
    var errors: Errors
    var negotiated: NegotiatedParameters?
}

extension LoadSummary {
    init(options: LoadOptions, resolved: TargetAddress, statistics: LoadStatistics) {
        let span = statistics.measuredSpan.seconds
        target = options.target.description
        address = resolved.description
        mode = options.mode.rawValue
        threads = options.threads
        switch options.pacing {
        case .concurrency(let limit):
            concurrency = limit
        case .rate(let perSecond, let limit):
            ratePerSecond = perSecond
            maxInFlight = limit
        }
        elapsedSeconds = span
        connectionsStarted = statistics.connectionsStarted
        handshakes = statistics.handshakes
        sessionsReused = statistics.sessionsReused
        primingHandshakes = statistics.primingHandshakes
        requests = statistics.requests
        missedStarts = statistics.missedStarts
        handshakesPerSecond = span > 0 ? Double(statistics.handshakes) / span : 0
        requestsPerSecond = span > 0 ? Double(statistics.requests) / span : 0
        handshakeLatencyMs = Latency(statistics.handshakeLatency)
        requestLatencyMs = Latency(statistics.requestLatency)
        negotiated = statistics.negotiated

        let details = statistics.failures
            .map { Errors.Detail(kind: $0.key.kind, detail: $0.key.detail, count: $0.value) }
            .sorted { ($0.count, $1.detail) > ($1.count, $0.detail) }
        errors = Errors(
            total: statistics.failureCount,
            connectRefused: statistics.failureCount(of: .connectRefused),
            timeout: statistics.failureCount(of: .timeout),
            alertReceived: statistics.failureCount(of: .alertReceived),
            verifyFailed: statistics.failureCount(of: .verifyFailed),
            other: statistics.failureCount(of: .other),
            details: details)
    }

    func jsonText() -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}

extension LoadSummary.Latency {
    static let nanosecondsPerMillisecond = 1_000_000.0

    /// Summarizes a histogram in milliseconds; nil when it is empty.
    init?(_ histogram: LatencyHistogram) {
        guard let p50 = histogram.value(atPercentile: 50), let p90 = histogram.value(atPercentile: 90),
              let p99 = histogram.value(atPercentile: 99), let mean = histogram.mean else { return nil }
        let scale = Self.nanosecondsPerMillisecond
        self.p50 = Double(p50) / scale
        self.p90 = Double(p90) / scale
        self.p99 = Double(p99) / scale
        max = Double(histogram.maximum) / scale
        self.mean = mean / scale
        count = Int(histogram.totalCount)
    }
}
