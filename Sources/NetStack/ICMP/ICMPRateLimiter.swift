import CapnetBase

/// A token bucket for outgoing ICMP error messages (RFC 1812 §4.3.2.8,
/// RFC 1122 §3.2.2: a host should limit the rate of the errors it sends).
/// Echo replies are not limited.
public struct ICMPRateLimiter: Sendable {
    public struct Configuration: Sendable {
        /// Sustained rate. Linux's `net.ipv4.icmp_msgs_per_sec` default is 1000.
        public var messagesPerSecond: Int64 = 1000
        /// Messages that may be sent back to back after a quiet period.
        /// Linux's `net.ipv4.icmp_msgs_burst` default is 50.
        public var burst: Int64 = 50

        public init() {}

        public init(messagesPerSecond: Int64, burst: Int64) {
            self.messagesPerSecond = messagesPerSecond
            self.burst = burst
        }
    }

    public let configuration: Configuration
    /// Nanoseconds of credit per message: one second divided by the rate.
    private let cost: Int64
    /// Available credit in nanoseconds, at most `burst × cost`.
    private var credit: Int64
    private var lastRefill: Instant?

    public init(configuration: Configuration = Configuration()) {
        precondition(configuration.messagesPerSecond > 0 && configuration.burst > 0,
                     "ICMP rate limits must be positive: \(configuration.messagesPerSecond)/s burst \(configuration.burst)")
        self.configuration = configuration
        cost = Nanoseconds.seconds(1).value / configuration.messagesPerSecond
        credit = cost * configuration.burst
    }

    /// Takes one token and returns true, or returns false when the bucket is empty.
    public mutating func allow(now: Instant) -> Bool {
        if let lastRefill, lastRefill < now {
            credit = min(cost * configuration.burst, credit + (now - lastRefill).value)
        }
        lastRefill = now
        guard credit >= cost else { return false }
        credit -= cost
        return true
    }
}
