import CapnetBase
import Synchronization

/// Counts and latencies of one worker, merged into the run's total at the end.
struct LoadStatistics {
    /// Connections started in the measured phase (priming excluded).
    var connectionsStarted = 0
    var handshakes = 0
    /// Handshakes in which the server accepted the offered session.
    var sessionsReused = 0
    var requests = 0
    /// Open loop only: starts skipped because `--max-in-flight` connections
    /// were already open.
    var missedStarts = 0
    /// Full handshakes made only to obtain a session ticket, one per worker
    /// in the resumed modes; not in `handshakes` or the latencies.
    var primingHandshakes = 0
    /// From the start of connect (or its scheduled time) to handshake done.
    var handshakeLatency = LatencyHistogram()
    /// From handshake done to the last byte of the response.
    var requestLatency = LatencyHistogram()
    var failures: [LoadFailure: Int] = [:]
    /// Parameters of the first completed handshake.
    var negotiated: NegotiatedParameters?
    /// When the measured phase started and ended; rates divide by this span.
    var measuredStart: Instant?
    var measuredEnd: Instant?

    var measuredSpan: Nanoseconds {
        guard let measuredStart, let measuredEnd else { return .zero }
        return measuredEnd - measuredStart
    }

    var failureCount: Int { failures.values.reduce(0, +) }

    func failureCount(of kind: LoadFailure.Kind) -> Int {
        failures.filter { $0.key.kind == kind }.values.reduce(0, +)
    }

    mutating func merge(_ other: LoadStatistics) {
        connectionsStarted += other.connectionsStarted
        handshakes += other.handshakes
        sessionsReused += other.sessionsReused
        requests += other.requests
        missedStarts += other.missedStarts
        primingHandshakes += other.primingHandshakes
        handshakeLatency.merge(other.handshakeLatency)
        requestLatency.merge(other.requestLatency)
        failures.merge(other.failures, uniquingKeysWith: +)
        if negotiated == nil { negotiated = other.negotiated }
        if let start = other.measuredStart { measuredStart = min(measuredStart ?? start, start) }
        if let end = other.measuredEnd { measuredEnd = max(measuredEnd ?? end, end) }
    }
}

/// Running totals that a worker publishes for the once-a-second progress line.
final class LoadProgress: Sendable {
    let handshakes = Atomic<Int>(0)
    let requests = Atomic<Int>(0)
    let failures = Atomic<Int>(0)
}
