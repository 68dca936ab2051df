import CapnetBase

/// Listen, connect and accept: the layer mints the socket capabilities.
extension TCPLayer {
    // MARK: Minting capabilities

    /// Opens `port` for passive opens. Bounds default to the configuration's.
    public func listen(port: UInt16, synQueueLimit: Int? = nil, acceptBacklog: Int? = nil) throws(TCPError) -> TCPListener {
        guard port != 0, listeners[port] == nil else { throw .addressInUse }
        listeners[port] = TCPListenerState(port: port, synQueueLimit: synQueueLimit ?? configuration.synQueueLimit,
                                           acceptBacklog: acceptBacklog ?? configuration.acceptBacklog)
        return TCPListener(layer: self, port: port)
    }

    /// RFC 9293 §3.10.1 active OPEN to `remote`; the SYN goes out on the next poll.
    /// `localPort` nil picks an ephemeral port (RFC 6056 algorithm 3).
    public func connect(to remote: IPv4Endpoint, localPort: UInt16? = nil, now: Instant) throws(TCPError) -> TCPSocket {
        guard entries.count < configuration.maximumConnections else { throw .resourceLimit }
        let local: IPv4Endpoint
        if let localPort {
            local = IPv4Endpoint(address: configuration.localAddress, port: localPort)
            guard table[TCPFourTuple(local: local, remote: remote)] == nil else { throw .addressInUse }
        } else {
            local = try chooseEphemeralEndpoint(remote: remote)
        }
        let tuple = TCPFourTuple(local: local, remote: remote)
        guard let connection = TCPConnection.activeOpen(local: local, remote: remote, configuration: configuration,
                                                        initialSendSequence: initialSequenceNumber(tuple: tuple, now: now),
                                                        timestampOffset: timestampOffset(tuple: tuple), now: now,
                                                        budget: &environment.budget) else {
            throw .resourceLimit
        }
        environment.counters.activeOpens += 1
        let id = insertConnection(connection, listenerPort: nil, socketOwned: true, inSynQueue: false)
        pendingTransmit.insert(id)
        return TCPSocket(layer: self, id: id, local: local, remote: remote)
    }

    /// RFC 6056 §3.3.3: a keyed offset per remote endpoint plus a counter.
    private func chooseEphemeralEndpoint(remote: IPv4Endpoint) throws(TCPError) -> IPv4Endpoint {
        let range = UInt32(Self.ephemeralPorts.count)
        let probe = TCPFourTuple(local: IPv4Endpoint(address: configuration.localAddress, port: 0), remote: remote)
        let offset = UInt32(truncatingIfNeeded: keyedHash(.ephemeralPort, tuple: probe))
        for _ in 0..<range {
            ephemeralCounter &+= 1
            let port = Self.ephemeralPorts.lowerBound + UInt16((offset &+ ephemeralCounter) % range)
            let local = IPv4Endpoint(address: configuration.localAddress, port: port)
            if table[TCPFourTuple(local: local, remote: remote)] == nil && listeners[port] == nil { return local }
        }
        throw .addressInUse
    }

    func accept(port: UInt16) -> TCPSocket? {
        guard var listener = listeners[port], !listener.acceptQueue.isEmpty else { return nil }
        let id = listener.acceptQueue.removeFirst()
        listeners[port] = listener
        guard let entry = entries[id] else { return nil }
        entries[id]?.socketOwned = true
        entries[id]?.listenerPort = nil
        return TCPSocket(layer: self, id: id, local: entry.connection.local, remote: entry.connection.remote)
    }

    func closeListener(port: UInt16) {
        guard let listener = listeners.removeValue(forKey: port) else { return }
        for id in listener.acceptQueue {
            entries[id]?.listenerPort = nil
            entries[id]?.connection.abort()
            pendingTransmit.insert(id)
        }
        for (id, entry) in entries where entry.inSynQueue && entry.listenerPort == port {
            entries[id]?.inSynQueue = false
            entries[id]?.listenerPort = nil
            entries[id]?.connection.abort()
            pendingTransmit.insert(id)
        }
    }

    func closeSocket(_ id: TCPConnectionID) {
        guard entries[id] != nil else { return }
        entries[id]?.socketOwned = false
        entries[id]?.connection.close()
        pendingTransmit.insert(id)
        if entries[id]?.connection.state == .closed && entries[id]?.connection.resetPending == nil {
            removeConnection(id)
        }
    }

    /// Returns a snapshot of every connection, for display (`ss`-like listings).
    public func connectionInfos() -> [TCPConnectionInfo] {
        entries.values.map { Self.info(of: $0.connection) }
    }

    /// Listening ports with their queue lengths.
    public func listenerInfos() -> [(port: UInt16, synQueue: Int, acceptQueue: Int)] {
        listeners.values.map { ($0.port, $0.synQueueCount, $0.acceptQueue.count) }.sorted { $0.port < $1.port }
    }

    static func info(of connection: TCPConnection) -> TCPConnectionInfo {
        TCPConnectionInfo(local: connection.local, remote: connection.remote, state: connection.state,
                          smoothedRTT: connection.rtt.smoothedRTT, rto: connection.rtt.rto,
                          congestionWindow: connection.congestion.congestionWindow,
                          slowStartThreshold: connection.congestion.slowStartThreshold,
                          sendWindow: connection.sendWindow,
                          receiveWindow: max(connection.receiveAdvertisedEdge - connection.receiveNext, 0),
                          sendMSS: connection.sendMSS, bytesReceived: connection.bytesReceived,
                          bytesSent: connection.bytesSent, segmentsRetransmitted: connection.segmentsRetransmitted,
                          congestionControl: connection.settings.congestionControl)
    }
}
