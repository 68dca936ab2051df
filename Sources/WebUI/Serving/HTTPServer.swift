import CapnetBase
import NetStack
import TLSEngine

/// Serves HTTP/1.1, over TLS or in the clear, on one TCP listener of the
/// userspace stack. The stack's run loop calls `poll` every turn.
///
/// The server holds only its listener capability: it can accept connections
/// on that one port and reach nothing else on the network.
public final class HTTPServer: InterfaceService {
    /// Bounds on what one server holds.
    public struct Limits: Sendable {
        /// Connections open at once; further ones wait in the TCP accept
        /// backlog (itself bounded) until a slot frees.
        public var maximumConnections = 256
        /// Time from accept to a finished TLS handshake before the
        /// connection is aborted, so a silent client cannot hold a slot.
        public var handshakeTimeout = Nanoseconds.seconds(10)
        /// Bytes of response a connection may buffer before it stops
        /// reading requests (back-pressure on pipelining clients).
        public var maximumPendingOutput = 256 * 1024
        /// Bytes read from one socket per turn, so one busy connection
        /// cannot starve the others.
        public var maximumReadPerPoll = 64 * 1024

        public init() {}
    }

    /// A TLS connection that completed its handshake, for the status page.
    public struct SessionInfo: Sendable {
        public var remote: IPv4Endpoint
        public var local: IPv4Endpoint
        public var parameters: NegotiatedParameters
        public var establishedAt: Instant
    }

    /// Totals for metrics and the handshakes-per-second chart.
    public struct Counters: Sendable, Equatable {
        public var connectionsAccepted: UInt64 = 0
        public var handshakesCompleted: UInt64 = 0
        public var handshakesResumed: UInt64 = 0
        public var handshakesFailed: UInt64 = 0
        public var handshakeTimeouts: UInt64 = 0
        public var requestsServed: UInt64 = 0
    }

    public let port: UInt16
    public let limits: Limits
    public private(set) var counters = Counters()

    private let listener: TCPListener
    private let tlsConfiguration: TLSServerConfiguration?
    private let connectionConfiguration: HTTPConnection.Configuration
    private let handler: (HTTPRequest) -> HTTPResponse
    private var sessions: [HTTPServerSession] = []
    private let readBuffer: UnsafeMutableRawBufferPointer
    private var now = Instant.zero
    private static let log = Logger(.http)
    private static let readBufferSize = 16 * 1024

    /// - Parameters:
    ///   - listener: the capability for the one port this server answers on.
    ///   - tls: the TLS configuration, or nil for plain HTTP (port 80).
    ///   - handler: answers each complete request; runs on the loop thread.
    public init(listener: TCPListener, tls: TLSServerConfiguration?,
                connectionConfiguration: HTTPConnection.Configuration = .init(),
                limits: Limits = Limits(), handler: @escaping (HTTPRequest) -> HTTPResponse) {
        self.listener = listener
        port = listener.port
        tlsConfiguration = tls
        self.connectionConfiguration = connectionConfiguration
        self.limits = limits
        self.handler = handler
        readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.readBufferSize, alignment: 16)
    }

    deinit { readBuffer.deallocate() }

    public var openConnections: Int { sessions.count }

    /// TLS sessions whose handshake has completed, for the dashboard.
    public var establishedSessions: [SessionInfo] {
        sessions.compactMap { session in
            guard let parameters = session.negotiated else { return nil }
            return SessionInfo(remote: session.socket.remote, local: session.socket.local,
                               parameters: parameters, establishedAt: session.acceptedAt)
        }
    }

    public func poll(now: Instant) {
        self.now = now
        acceptConnections(now: now)

        var index = 0
        while index < sessions.count {
            let session = sessions[index]
            let wasEstablished = session.negotiated != nil
            let served = session.http.statistics.responsesSent
            session.poll(now: now, readBuffer: readBuffer, handler: handler)
            account(session, wasEstablished: wasEstablished, responsesBefore: served)
            if session.phase == .finished {
                sessions.swapAt(index, sessions.count - 1)
                sessions.removeLast()
            } else {
                index += 1
            }
        }
    }

    public var nextDeadline: Instant? {
        var earliest: Instant? = listener.pendingConnections > 0 && sessions.count < limits.maximumConnections
            ? now : nil
        for session in sessions {
            guard let deadline = session.nextDeadline else { continue }
            earliest = earliest.map { min($0, deadline) } ?? deadline
        }
        return earliest
    }

    /// Stops accepting and closes every connection (at shutdown).
    public func close() {
        for session in sessions { session.socket.abort() }
        sessions.removeAll()
        listener.close()
    }

    private func acceptConnections(now: Instant) {
        while sessions.count < limits.maximumConnections, let socket = listener.accept() {
            counters.connectionsAccepted += 1
            let tls = tlsConfiguration.map { TLSServerConnection(configuration: $0) }
            let http = HTTPConnection(configuration: connectionConfiguration, now: now)
            sessions.append(HTTPServerSession(socket: socket, tls: tls, http: http, limits: limits, now: now))
            Self.log.debug("accepted connection", "port=\(port) remote=\(socket.remote) open=\(sessions.count)")
        }
    }

    private func account(_ session: HTTPServerSession, wasEstablished: Bool, responsesBefore: Int) {
        if !wasEstablished, let parameters = session.negotiated {
            counters.handshakesCompleted += 1
            if parameters.resumed { counters.handshakesResumed += 1 }
        }
        if session.phase == .finished, session.tls != nil, session.negotiated == nil {
            if session.handshakeTimedOut {
                counters.handshakeTimeouts += 1
            } else {
                counters.handshakesFailed += 1
            }
        }
        counters.requestsServed += UInt64(max(0, session.http.statistics.responsesSent - responsesBefore))
    }
}
