// A bounded history for the dashboard's charts: one sample per second for
// the last ten minutes of packets per second, open connections and TLS
// handshakes per second. The owner feeds it running totals and the time;
// the history turns totals into rates.
import CapnetBase

public struct StatusHistory: Sendable {
    /// Totals the owner reads from the stack at one moment.
    public struct Totals: Hashable, Sendable {
        /// Frames received plus frames sent, over all interfaces, since start.
        public var packets: UInt64
        /// Completed TLS handshakes since start.
        public var handshakes: UInt64
        /// TCP connections open now.
        public var connections: Int

        public init(packets: UInt64, handshakes: UInt64, connections: Int) {
            self.packets = packets
            self.handshakes = handshakes
            self.connections = connections
        }
    }

    /// One point of the charts.
    public struct Sample: Hashable, Sendable {
        public var time: Instant
        public var packetsPerSecond: Double
        public var connections: Int
        public var handshakesPerSecond: Double
    }

    /// Time between samples.
    public static let sampleInterval = Nanoseconds.seconds(1)
    /// Samples kept: ten minutes at one sample per second. Older samples
    /// are overwritten.
    public static let maximumSamples = 600

    /// Ring storage; `start` is the oldest sample once the ring is full.
    private var ring: [Sample] = []
    private var start = 0
    private var previous: (totals: Totals, time: Instant)?

    public init() {
        ring.reserveCapacity(Self.maximumSamples)
    }

    public var count: Int { ring.count }

    /// Samples from oldest to newest.
    public var samples: [Sample] {
        Array(ring[start...] + ring[..<start])
    }

    /// Records `totals` read at `now`. The first call only sets the base for
    /// rates. A later call adds a sample when at least `sampleInterval` has
    /// passed since the last one, and is ignored otherwise, so the owner may
    /// call it on every turn. A total that went down (a counter reset) gives
    /// a rate of zero for that sample.
    public mutating func record(_ totals: Totals, at now: Instant) {
        guard let (last, lastTime) = previous else {
            previous = (totals, now)
            return
        }
        let elapsed = now - lastTime
        guard elapsed >= Self.sampleInterval else { return }
        let seconds = elapsed.seconds
        let sample = Sample(time: now,
                            packetsPerSecond: Self.rate(from: last.packets, to: totals.packets, seconds: seconds),
                            connections: totals.connections,
                            handshakesPerSecond: Self.rate(from: last.handshakes, to: totals.handshakes,
                                                           seconds: seconds))
        append(sample)
        previous = (totals, now)
    }

    private mutating func append(_ sample: Sample) {
        if ring.count < Self.maximumSamples {
            ring.append(sample)
        } else {
            ring[start] = sample
            start = (start + 1) % Self.maximumSamples
        }
    }

    private static func rate(from old: UInt64, to new: UInt64, seconds: Double) -> Double {
        new >= old ? Double(new - old) / seconds : 0
    }
}

/// The history as the API sends it: ages relative to the newest sample.
public struct HistoryReport: Codable, Hashable, Sendable {
    public struct Point: Codable, Hashable, Sendable {
        /// Seconds before the newest sample (0 for the newest).
        public var ageSeconds: Double
        public var packetsPerSecond: Double
        public var connections: Int
        public var handshakesPerSecond: Double
    }

    public var sampleIntervalSeconds: Double
    public var maximumSamples: Int
    /// Oldest first.
    public var points: [Point]

    public init(_ history: StatusHistory) {
        let samples = history.samples
        let newest = samples.last?.time ?? .zero
        sampleIntervalSeconds = StatusHistory.sampleInterval.seconds
        maximumSamples = StatusHistory.maximumSamples
        points = samples.map {
            Point(ageSeconds: (newest - $0.time).seconds, packetsPerSecond: $0.packetsPerSecond,
                  connections: $0.connections, handshakesPerSecond: $0.handshakesPerSecond)
        }
    }
}
