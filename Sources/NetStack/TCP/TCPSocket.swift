import CapnetBase

/// The operations a socket is ready for.
public struct TCPReadiness: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// `read` returns data, or the peer's FIN was reached (`isEndOfStream`).
    public static let readable = TCPReadiness(rawValue: 1 << 0)
    /// `write` accepts at least one byte.
    public static let writable = TCPReadiness(rawValue: 1 << 1)
    /// The handshake completed (ESTABLISHED or later).
    public static let connected = TCPReadiness(rawValue: 1 << 2)
    /// The connection ended with an error (`error` names it).
    public static let failed = TCPReadiness(rawValue: 1 << 3)
    /// The connection is CLOSED; the socket should be closed.
    public static let closed = TCPReadiness(rawValue: 1 << 4)

    public var description: String {
        var names: [String] = []
        if contains(.readable) { names.append("readable") }
        if contains(.writable) { names.append("writable") }
        if contains(.connected) { names.append("connected") }
        if contains(.failed) { names.append("failed") }
        if contains(.closed) { names.append("closed") }
        return "[" + names.joined(separator: ",") + "]"
    }
}

/// A snapshot of one connection for display and metrics.
public struct TCPConnectionInfo: Sendable, CustomStringConvertible {
    public var local: IPv4Endpoint
    public var remote: IPv4Endpoint
    public var state: TCPState
    public var smoothedRTT: Nanoseconds?
    public var rto: Nanoseconds
    /// Congestion window and slow-start threshold in bytes (`Int.max` before the first loss).
    public var congestionWindow: Int
    public var slowStartThreshold: Int
    public var sendWindow: Int
    public var receiveWindow: Int
    public var sendMSS: Int
    public var bytesReceived: UInt64
    public var bytesSent: UInt64
    public var segmentsRetransmitted: UInt64
    public var congestionControl: TCPCongestionControlAlgorithm

    public var description: String {
        let rtt = smoothedRTT.map { String(format: "%.1fms", $0.milliseconds) } ?? "-"
        return "\(local) \(remote) \(state) rtt \(rtt) cwnd \(congestionWindow) in \(bytesReceived) out \(bytesSent)"
    }
}

/// The right to accept connections on one port. Minted by `TCPLayer.listen`.
public struct TCPListener {
    let layer: TCPLayer
    public let port: UInt16

    init(layer: TCPLayer, port: UInt16) {
        self.layer = layer
        self.port = port
    }

    /// Takes the oldest completed connection, or nil.
    public func accept() -> TCPSocket? { layer.accept(port: port) }

    /// Completed connections waiting for `accept`.
    public var pendingConnections: Int { layer.listeners[port]?.acceptQueue.count ?? 0 }

    /// Stops listening; connections already accepted stay open, queued ones are reset.
    public func close() { layer.closeListener(port: port) }
}

/// The right to use one connection. Minted by `TCPLayer.connect` and
/// `TCPListener.accept`; it cannot name any other connection.
public struct TCPSocket {
    let layer: TCPLayer
    let id: TCPConnectionID
    public let local: IPv4Endpoint
    public let remote: IPv4Endpoint

    init(layer: TCPLayer, id: TCPConnectionID, local: IPv4Endpoint, remote: IPv4Endpoint) {
        self.layer = layer
        self.id = id
        self.local = local
        self.remote = remote
    }

    /// Runs `body` on the connection; `changed` marks it for sending on the next poll.
    private func withConnection<R>(changed: (R) -> Bool = { _ in true },
                                   _ body: (inout TCPConnection) throws(TCPError) -> R) throws(TCPError) -> R {
        guard layer.entries[id] != nil else { throw .invalidState(.closed) }
        let result = try body(&layer.entries[id]!.connection)  // checked just above
        if changed(result) { layer.pendingTransmit.insert(id) }
        return result
    }

    /// Copies received bytes into `buffer`; returns 0 when none are available
    /// (see `isEndOfStream`). Throws the connection's error once data is drained.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(TCPError) -> Int {
        try withConnection(changed: { $0 > 0 }) { connection throws(TCPError) in
            let n = connection.read(into: buffer)
            if n == 0, let error = connection.error, error != .aborted { throw error }
            return n
        }
    }

    /// Lends the received bytes in place as one or two pieces (the buffer
    /// wraps); `body` returns how many bytes it consumed.
    public func withReadableBytes(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Int) throws(TCPError) -> Int {
        try withConnection(changed: { $0 > 0 }) { connection in connection.withReadableBytes(body) }
    }

    /// Queues bytes; returns how many fit in the send buffer (0 means wait
    /// for `.writable`). Throws after shutdown or when the connection failed.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(TCPError) -> Int {
        let budgetPointer = layer
        return try withConnection(changed: { $0 > 0 }) { connection throws(TCPError) in
            try connection.write(bytes, budget: &budgetPointer.environment.budget)
        }
    }

    /// Sends FIN after the queued data (half-close, RFC 9293 §3.6); reading continues.
    public func shutdown() {
        _ = try? withConnection { connection in connection.shutdownWrite() }
    }

    /// Closes both directions and gives the connection back to the layer,
    /// which finishes the close (FIN, TIME-WAIT) on its own. Unread data makes it a RST.
    public func close() { layer.closeSocket(id) }

    /// Resets the connection at once (RFC 9293 §3.10.5) and releases it.
    public func abort() {
        _ = try? withConnection { connection in connection.abort() }
        layer.closeSocket(id)
    }

    /// Turns Nagle's algorithm off (true) or on (false, the default).
    public func setNoDelay(_ noDelay: Bool) {
        _ = try? withConnection { connection in connection.noDelay = noDelay }
    }

    /// Turns keepalive probes on or off (off by default, RFC 9293 §3.8.4).
    public func setKeepalive(_ enabled: Bool, now: Instant) {
        _ = try? withConnection { connection in
            connection.keepaliveEnabled = enabled
            connection.keepaliveDeadline = enabled ? now + connection.settings.keepaliveIdle : nil
        }
    }

    public var state: TCPState { layer.entries[id]?.connection.state ?? .closed }
    public var error: TCPError? { layer.entries[id]?.connection.error }
    public var readableBytes: Int { layer.entries[id]?.connection.readableBytes ?? 0 }

    /// The peer's FIN was received and every byte before it has been read.
    public var isEndOfStream: Bool {
        guard let connection = layer.entries[id]?.connection else { return true }
        return connection.finReceived && connection.readableBytes == 0
    }

    public var readiness: TCPReadiness {
        guard let connection = layer.entries[id]?.connection else { return [.closed] }
        var result: TCPReadiness = []
        if connection.readableBytes > 0 || connection.finReceived { result.insert(.readable) }
        if connection.state.acceptsWrites && !connection.finQueued && connection.writableSpace > 0
            && connection.state != .synSent && connection.state != .synReceived {
            result.insert(.writable)
        }
        if connection.state.isSynchronized { result.insert(.connected) }
        if connection.error != nil && connection.error != .aborted { result.insert([.failed, .readable]) }
        if connection.state == .closed { result.insert(.closed) }
        return result
    }

    public var info: TCPConnectionInfo? { layer.entries[id].map { TCPLayer.info(of: $0.connection) } }
}
