import CapnetBase

/// The congestion controller a connection uses.
public enum TCPCongestionControlAlgorithm: String, Sendable, CaseIterable {
    /// RFC 5681 with the NewReno modification of RFC 6582.
    case newReno = "newreno"
    /// RFC 9438, the default as in Linux.
    case cubic
}

/// A keyed hash for RFC 6528 initial sequence numbers and SYN cookies.
///
/// The stack owner passes one in, keyed with a secret from a CSPRNG; NetStack
/// never reads randomness or implements a cryptographic primitive itself.
/// Production should back it with libcrypto (for example HMAC-SHA-256 over
/// the input, truncated to 64 bits).
public protocol TCPKeyedHash {
    /// Returns 64 bits that depend on every input byte and on the secret key.
    func hash(_ input: UnsafeRawBufferPointer) -> UInt64
}

/// A keyed mixing function built from SplitMix64 finalizer rounds.
///
/// NOTE: this is NOT a cryptographic primitive, and an observer of enough
/// ISNs can recover the key. It exists so that tests and the simulator get
/// reproducible, well-spread sequence numbers. Use a libcrypto-backed
/// `TCPKeyedHash` for connections that face the Internet.
public struct TCPTestMixingHash: TCPKeyedHash, Sendable {
    public let key: UInt64

    public init(key: UInt64) { self.key = key }

    public func hash(_ input: UnsafeRawBufferPointer) -> UInt64 {
        var state = key
        for byte in input {
            state = Self.mix(state ^ UInt64(byte))
        }
        return Self.mix(state ^ UInt64(input.count))
    }

    /// The SplitMix64 output function (Steele, Lea and Flood, 2014).
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Settings for a TCP layer and the connections it creates. Defaults follow
/// the RFCs, with Linux's choice named where the RFCs leave room.
public struct TCPConfiguration {
    /// The address connections are accepted on and opened from.
    public var localAddress: IPv4Address
    /// The interface MTU; the MSS we announce is MTU minus 40 (RFC 9293 §3.7.1).
    public var mtu: Int
    public var congestionControl: TCPCongestionControlAlgorithm = .cubic
    /// Keyed hash for RFC 6528 ISNs and SYN cookies.
    public var isnHash: any TCPKeyedHash

    /// Receive buffer per connection; the window never advertises more.
    public var receiveBufferSize = 256 * 1024
    /// Send buffer per connection; `write` accepts no more than this unacknowledged.
    public var sendBufferSize = 256 * 1024
    /// Bytes of send and receive buffer all connections may hold together.
    public var globalBufferLimit = 64 * 1024 * 1024
    /// Connections in the table, all states; a SYN beyond this is dropped.
    public var maximumConnections = 4096
    /// Out-of-order ranges kept per connection (holes in the receive buffer).
    public var maximumOutOfOrderRanges = 16
    /// Default SYN queue (SYN-RECEIVED connections) per listener; beyond it, SYN cookies.
    /// A cookie handshake fails with a RST when the peer's ACK and first data
    /// segment are both lost (as in Linux), so cookies are for floods, not for
    /// a few hundred clients connecting at once. Connections waiting for room in
    /// the accept backlog stay in this queue. Linux's tcp_max_syn_backlog starts
    /// at 128 and grows with memory (2048 on a 24 GiB Debian 12 machine).
    public var synQueueLimit = 1024
    /// Default completed connections waiting for `accept` per listener.
    public var acceptBacklog = 128

    /// Maximum segment lifetime; TIME-WAIT lasts 2*MSL (RFC 9293 §3.4.2 suggests 2 minutes).
    public var maximumSegmentLifetime: Nanoseconds = .seconds(60)
    /// RFC 6298 §2.4 sets 1 s; Linux uses 200 ms.
    public var minimumRTO: Nanoseconds = .seconds(1)
    /// RFC 6298 §2.5 allows an upper bound of at least 60 s.
    public var maximumRTO: Nanoseconds = .seconds(60)
    /// RFC 6298 §2.1: 1 s before the first RTT sample.
    public var initialRTO: Nanoseconds = .seconds(1)
    /// SYN retransmissions before an active open fails (Linux tcp_syn_retries is 6).
    public var synRetries = 6
    /// Data retransmissions before the connection is aborted (R2 of RFC 1122 §4.2.3.5; Linux's tcp_retries2 is 15).
    public var dataRetries = 15
    /// RFC 9293 §3.8.6.3: delayed ACKs wait at most 500 ms; Linux uses 40 ms to 200 ms.
    public var delayedAckTimeout: Nanoseconds = .milliseconds(200)
    /// Keepalive is off by default (RFC 9293 §3.8.4); these apply when a socket turns it on.
    public var keepaliveIdle: Nanoseconds = .seconds(7200)
    public var keepaliveInterval: Nanoseconds = .seconds(75)
    public var keepaliveProbes = 9
    /// RFC 5961 §7: challenge ACKs sent per second across the layer (Linux default 1000).
    public var challengeAckLimit = 1000
    /// Time after which a connection in FIN-WAIT-2 with a closed socket is dropped (Linux tcp_fin_timeout).
    public var finWait2Timeout: Nanoseconds = .seconds(60)

    /// Options announced in SYNs.
    public var enableWindowScaling = true
    public var enableTimestamps = true
    public var enableSack = true
    public var enableSynCookies = true
    /// Tail loss probes (RFC 8985 §7) on connections with SACK: a segment
    /// sent two smoothed RTTs after the last ACK when data is still in
    /// flight, so a lost tail is repaired by fast recovery instead of an RTO.
    public var enableTailLossProbe = true

    public init(localAddress: IPv4Address, mtu: Int, isnHash: any TCPKeyedHash) {
        self.localAddress = localAddress
        self.mtu = mtu
        self.isnHash = isnHash
    }

    /// IPv4 and TCP fixed headers, subtracted from the MTU for the MSS (RFC 9293 §3.7.1).
    static let ipAndTCPHeaderLength = 40
    /// RFC 9293 §3.7.1: the MSS to assume when the peer sends none.
    public static let defaultMSS = 536

    /// The MSS we announce: MTU minus the IPv4 and TCP fixed headers.
    public var announcedMSS: Int { max(mtu - Self.ipAndTCPHeaderLength, Self.minimumMSS) }

    /// A floor for tiny or mistaken MTUs (RFC 791's 68-byte minimum MTU leaves 28).
    static let minimumMSS = 64

    /// The window scale shift that lets the receive buffer be advertised (RFC 7323 §2.3).
    var receiveWindowShift: UInt8 {
        guard enableWindowScaling else { return 0 }
        var shift: UInt8 = 0
        while shift < TCPWindow.maximumShift && receiveBufferSize >> Int(shift) > Int(UInt16.max) { shift += 1 }
        return shift
    }
}

/// Window constants (RFC 7323 §2).
enum TCPWindow {
    /// RFC 7323 §2.3: a shift above 14 is treated as 14.
    static let maximumShift: UInt8 = 14
}
