/// The connection states of RFC 9293 §3.3.2, printed with the RFC's names.
public enum TCPState: Int, CaseIterable, Sendable, CustomStringConvertible {
    case closed
    case listen
    case synSent
    case synReceived
    case established
    case finWait1
    case finWait2
    case closeWait
    case closing
    case lastAck
    case timeWait

    public var description: String {
        switch self {
        case .closed: "CLOSED"
        case .listen: "LISTEN"
        case .synSent: "SYN-SENT"
        case .synReceived: "SYN-RECEIVED"
        case .established: "ESTABLISHED"
        case .finWait1: "FIN-WAIT-1"
        case .finWait2: "FIN-WAIT-2"
        case .closeWait: "CLOSE-WAIT"
        case .closing: "CLOSING"
        case .lastAck: "LAST-ACK"
        case .timeWait: "TIME-WAIT"
        }
    }

    /// States after the handshake in which data may arrive (RFC 9293 §3.10.7.4 seventh check).
    var acceptsData: Bool { self == .established || self == .finWait1 || self == .finWait2 }

    /// States in which the socket owner may still queue data.
    var acceptsWrites: Bool {
        self == .synSent || self == .synReceived || self == .established || self == .closeWait
    }

    /// RFC 9293 "synchronized" states: SYN exchanged both ways.
    var isSynchronized: Bool {
        switch self {
        case .closed, .listen, .synSent, .synReceived: false
        default: true
        }
    }
}

/// The reason a connection ended or an operation failed, as seen by the socket owner.
public enum TCPError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A RST arrived in reply to our SYN (RFC 9293 §3.10.7.3).
    case connectionRefused
    /// A RST arrived on a synchronized connection.
    case connectionReset
    /// Retransmissions, SYN retries or keepalive probes ran out.
    case timedOut
    /// The socket owner aborted the connection.
    case aborted
    /// `write` after `shutdown` or `close`.
    case writeAfterShutdown
    /// The connection is not in a state that allows the operation.
    case invalidState(TCPState)
    /// The layer has no room for another connection (table or memory bound).
    case resourceLimit
    /// The local port is in use for that remote endpoint, or every ephemeral port is.
    case addressInUse

    public var description: String {
        switch self {
        case .connectionRefused: "connection refused"
        case .connectionReset: "connection reset by peer"
        case .timedOut: "connection timed out"
        case .aborted: "connection aborted"
        case .writeAfterShutdown: "write after shutdown"
        case .invalidState(let state): "invalid in state \(state)"
        case .resourceLimit: "TCP resource limit reached"
        case .addressInUse: "address in use"
        }
    }
}
