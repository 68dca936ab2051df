import CapnetBase

/// The reason the TCP layer discarded an incoming segment (or part of one). The
/// `label` is stable and usable as a Prometheus label value.
public enum TCPDropReason: Int, CaseIterable, Sendable, CustomStringConvertible {
    /// The header failed the checked view or option parsing.
    case malformed
    case badChecksum
    /// Addressed to an IPv4 address other than the layer's.
    case wrongDestination
    /// From a broadcast, multicast or unspecified source (RFC 1122 §4.2.3.10).
    case invalidSource
    /// No connection and no listener. The layer replies with RST unless the segment was a RST.
    case noSocket
    /// RFC 9293 §3.10.7.4 first check: not acceptable for the receive window.
    case outsideWindow
    /// RFC 7323 §5.3: timestamp older than TS.Recent.
    case pawsRejected
    /// RFC 7323 §3.2: timestamps negotiated but the segment carries none.
    case missingTimestamp
    /// RFC 5961 §3.2: a RST inside the window but not at RCV.NXT.
    case resetChallenged
    /// RFC 5961 §4.2: a SYN on a synchronized connection.
    case synChallenged
    /// RFC 5961 §5.2 or RFC 9293 §3.10.7.4: ACK for data never sent or too old.
    case unacceptableAck
    /// A segment without ACK on a synchronized connection (RFC 9293 §3.10.7.4 fifth check).
    case missingAck
    /// A listener received a segment that is neither SYN nor a valid cookie ACK.
    case listenerUnexpected
    /// Listener's SYN queue full and SYN cookies disabled.
    case synQueueFull
    /// Listener's accept backlog full: the completing ACK is dropped.
    case acceptBacklogFull
    /// The layer has `maximumConnections` connections.
    case connectionLimit
    /// The global buffer bound left no memory for a new connection.
    case memoryLimit
    /// An ACK whose SYN cookie did not validate.
    case invalidCookie
    /// Out-of-order data beyond `maximumOutOfOrderRanges` holes.
    case outOfOrderLimit
    /// Data past the advertised window (trimmed).
    case beyondWindow
    /// A RST outside the window, silently ignored (RFC 9293 §3.10.7.4).
    case resetOutsideWindow
    /// A challenge ACK not sent because of the RFC 5961 §7 rate limit.
    case challengeAckRateLimited
    /// A duplicate SYN to a listener for a connection already in its SYN queue.
    case duplicateSyn
    /// A segment in a state that ignores it (RFC 9293 §3.10.7, e.g. SYN-SENT without SYN).
    case ignoredInState

    public var label: String {
        switch self {
        case .malformed: "malformed"
        case .badChecksum: "bad_checksum"
        case .wrongDestination: "wrong_destination"
        case .invalidSource: "invalid_source"
        case .noSocket: "no_socket"
        case .outsideWindow: "outside_window"
        case .pawsRejected: "paws_rejected"
        case .missingTimestamp: "missing_timestamp"
        case .resetChallenged: "reset_challenged"
        case .synChallenged: "syn_challenged"
        case .unacceptableAck: "unacceptable_ack"
        case .missingAck: "missing_ack"
        case .listenerUnexpected: "listener_unexpected"
        case .synQueueFull: "syn_queue_full"
        case .acceptBacklogFull: "accept_backlog_full"
        case .connectionLimit: "connection_limit"
        case .memoryLimit: "memory_limit"
        case .invalidCookie: "invalid_cookie"
        case .outOfOrderLimit: "out_of_order_limit"
        case .beyondWindow: "beyond_window"
        case .resetOutsideWindow: "reset_outside_window"
        case .challengeAckRateLimited: "challenge_ack_rate_limited"
        case .duplicateSyn: "duplicate_syn"
        case .ignoredInState: "ignored_in_state"
        }
    }

    public var description: String { label }
}

/// The reason the TCP layer sent a RST.
public enum TCPResetReason: Int, CaseIterable, Sendable, CustomStringConvertible {
    /// RFC 9293 §3.10.7.1: a segment for a connection that does not exist.
    case closedPort
    /// RFC 9293 §3.10.7.2: an ACK to a listener.
    case listenerAck
    /// RFC 9293 §3.10.7.3: SYN-SENT received an unacceptable ACK.
    case synSentBadAck
    /// RFC 9293 §3.10.7.4: SYN-RECEIVED received an unacceptable ACK.
    case synReceivedBadAck
    /// The socket owner called `abort`.
    case userAbort
    /// RFC 9293 §3.10.4 / RFC 2525 §2.17: closed with unread received data.
    case closedWithUnreadData
    /// Data arrived after the socket was closed (RFC 9293 §3.10.7.4, Linux behaviour).
    case dataAfterClose
    /// A handshake completed but the accept backlog was full, so the new connection was reset.
    case resourceLimit

    public var label: String {
        switch self {
        case .closedPort: "closed_port"
        case .listenerAck: "listener_ack"
        case .synSentBadAck: "syn_sent_bad_ack"
        case .synReceivedBadAck: "syn_received_bad_ack"
        case .userAbort: "user_abort"
        case .closedWithUnreadData: "closed_with_unread_data"
        case .dataAfterClose: "data_after_close"
        case .resourceLimit: "resource_limit"
        }
    }

    public var description: String { label }
}

/// Counters of one TCP layer. Every drop and every RST sent has a reason.
public struct TCPCounters: Sendable {
    public private(set) var drops = [UInt64](repeating: 0, count: TCPDropReason.allCases.count)
    public private(set) var resetsSent = [UInt64](repeating: 0, count: TCPResetReason.allCases.count)
    public var segmentsReceived: UInt64 = 0
    public var segmentsSent: UInt64 = 0
    public var retransmittedSegments: UInt64 = 0
    /// Retransmission timer expiries on data (RFC 6298 §5.4), SYN timeouts excluded.
    public var retransmissionTimeouts: UInt64 = 0
    /// Entries into fast retransmit / fast recovery (RFC 5681 §3.2, RFC 6675 §5).
    public var fastRetransmits: UInt64 = 0
    /// Tail loss probes sent (RFC 8985 §7.3).
    public var tailLossProbes: UInt64 = 0
    public var activeOpens: UInt64 = 0
    public var passiveOpens: UInt64 = 0
    public var synCookiesSent: UInt64 = 0
    public var synCookiesValidated: UInt64 = 0
    public var challengeAcksSent: UInt64 = 0
    /// Connections that ended with a RST received or sent, or a timeout.
    public var connectionsReset: UInt64 = 0

    public init() {}

    public subscript(drop reason: TCPDropReason) -> UInt64 { drops[reason.rawValue] }
    public subscript(reset reason: TCPResetReason) -> UInt64 { resetsSent[reason.rawValue] }

    static let log = Logger(.tcp)

    mutating func count(_ reason: TCPDropReason) {
        drops[reason.rawValue] += 1
        Self.log.debug("dropped segment", "reason=\(reason.label)")
    }

    mutating func count(_ reason: TCPResetReason) {
        resetsSent[reason.rawValue] += 1
        Self.log.debug("sent RST", "reason=\(reason.label)")
    }
}
