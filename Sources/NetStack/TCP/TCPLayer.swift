import CapnetBase

/// A connection's key: the local and remote endpoints.
struct TCPFourTuple: Hashable {
    var local: IPv4Endpoint
    var remote: IPv4Endpoint
}

/// A connection's slot id; never reused within a layer.
struct TCPConnectionID: Hashable {
    let rawValue: UInt64
}

/// One connection slot: the state machine and who refers to it.
///
/// A class, so that `entries[id]?.field` reads one field through a
/// reference. With a struct, Dictionary's getter copied the whole entry (the
/// connection and its buffers' references) on every such read, several times
/// per segment, which took about 14 % of the CPU of a bulk receive in `perf`.
final class TCPConnectionEntry {
    var connection: TCPConnection
    /// The listener port for passive opens, until `accept` hands it out.
    var listenerPort: UInt16?
    /// A `TCPSocket` exists; the slot stays until the socket is closed.
    var socketOwned: Bool
    /// Counted in the listener's SYN queue (still SYN-RECEIVED).
    var inSynQueue: Bool

    init(connection: TCPConnection, listenerPort: UInt16?, socketOwned: Bool, inSynQueue: Bool) {
        self.connection = connection
        self.listenerPort = listenerPort
        self.socketOwned = socketOwned
        self.inSynQueue = inSynQueue
    }
}

/// One listening port (RFC 9293 LISTEN) with its bounds.
struct TCPListenerState {
    let port: UInt16
    let synQueueLimit: Int
    let acceptBacklog: Int
    var synQueueCount = 0
    var acceptQueue: [TCPConnectionID] = []
    /// When the last SYN cookie was sent; cookie ACKs are accepted only shortly after.
    var lastCookieSent: Instant?
}

/// The TCP layer of one interface: connection table, listeners, SYN
/// cookies, counters. It is the stack owner's object: only it mints
/// `TCPListener` and `TCPSocket` capabilities.
///
/// Typical wiring by the stack owner:
///
///     var configuration = TCPConfiguration(localAddress: address, mtu: 1500, isnHash: keyedHash)
///     let tcp = TCPLayer(configuration: configuration)
///     // register `tcp` with the interface for IPProtocol.tcp
///     let listener = try tcp.listen(port: 443)
///     // each loop turn: listener.accept(), socket.read/write, then the
///     // interface calls tcp.poll(now:output:) by tcp.nextDeadline
///
/// All calls come from the interface's run loop; nothing here is thread-safe.
public final class TCPLayer: IPv4TransportHandler {
    public let configuration: TCPConfiguration
    var environment: TCPEnvironment
    var entries: [TCPConnectionID: TCPConnectionEntry] = [:]
    var table: [TCPFourTuple: TCPConnectionID] = [:]
    var listeners: [UInt16: TCPListenerState] = [:]
    /// Connections a socket call touched; sent on the next poll.
    var pendingTransmit: Set<TCPConnectionID> = []
    private var nextID: UInt64 = 1
    var ephemeralCounter: UInt32 = 0

    /// RFC 6335 §6: the dynamic port range used for active opens.
    static let ephemeralPorts: ClosedRange<UInt16> = 49152...65535

    public init(configuration: TCPConfiguration) {
        self.configuration = configuration
        environment = TCPEnvironment(budget: TCPMemoryBudget(limit: configuration.globalBufferLimit),
                                     challengeAckLimit: configuration.challengeAckLimit)
    }

    public var counters: TCPCounters { environment.counters }
    public var memoryBudget: TCPMemoryBudget { environment.budget }
    public var connectionCount: Int { entries.count }

    // MARK: IPv4TransportHandler

    public func receive<Output: IPv4Output>(source: IPv4Address, destination: IPv4Address,
                                            payload: UnsafeRawBufferPointer, now: Instant, output: inout Output) {
        guard destination == configuration.localAddress else {
            environment.counters.count(.wrongDestination)
            return
        }
        guard !source.isMulticast, source != .broadcast, !source.isUnspecified else {
            environment.counters.count(.invalidSource)
            return
        }
        let view: TCPHeaderView
        let header: TCPHeaderRepr
        do throws(TCPWireError) {
            view = try TCPHeaderView(checking: payload)
            guard view.verifyChecksum(source: source, destination: destination) else { throw .badChecksum }
            header = try TCPHeaderRepr(parsing: view)
        } catch {
            environment.counters.count(error == .badChecksum ? .badChecksum : .malformed)
            return
        }
        environment.counters.segmentsReceived += 1
        let tuple = TCPFourTuple(local: IPv4Endpoint(address: destination, port: header.destinationPort),
                                 remote: IPv4Endpoint(address: source, port: header.sourcePort))

        withSink(tuple: tuple, output: &output) { sink in
            dispatch(header, payload: view.payload, tuple: tuple, now: now, sink: &sink)
        }
    }

    public func poll<Output: IPv4Output>(now: Instant, output: inout Output) {
        let due = entries.compactMap { id, entry -> TCPConnectionID? in
            if pendingTransmit.contains(id) { return id }
            guard let deadline = entry.connection.nextDeadline, deadline <= now else { return nil }
            return id
        }
        pendingTransmit.removeAll()
        for id in due {
            guard let tuple = entries[id].map({ TCPFourTuple(local: $0.connection.local, remote: $0.connection.remote) }) else { continue }
            withSink(tuple: tuple, output: &output) { sink in
                entries[id]?.connection.poll(now: now, environment: &environment, sink: &sink)
            }
            afterEvent(id)
        }
    }

    public var nextDeadline: Instant? {
        if !pendingTransmit.isEmpty { return .zero }
        var earliest: Instant?
        for entry in entries.values {
            if let deadline = entry.connection.nextDeadline, earliest == nil || deadline < earliest! {  // nil checked first
                earliest = deadline
            }
        }
        // NOTE: a linear scan; a timer wheel would scale past thousands of connections.
        return earliest
    }

    // MARK: Dispatch

    private func dispatch<Sink: TCPSegmentSink>(_ header: TCPHeaderRepr, payload: UnsafeRawBufferPointer,
                                                tuple: TCPFourTuple, now: Instant, sink: inout Sink) {
        // One lookup per segment: the entry is a class, so the calls below
        // change it in place.
        if let id = table[tuple], let entry = entries[id] {
            // RFC 9293 §3.10.7.4 / RFC 6191: a new SYN may reopen a connection in
            // TIME-WAIT when its sequence number is beyond the old one.
            if entry.connection.state == .timeWait, header.flags.contains(.syn), !header.flags.contains(.ack),
               header.sequenceNumber > entry.connection.receiveNext, listeners[tuple.local.port] != nil {
                removeConnection(id)
            } else if completesHandshakeIntoFullBacklog(entry, header) {
                // As Linux does with tcp_abort_on_overflow off: the ACK is dropped and
                // the connection stays in SYN-RECEIVED, so the peer's next ACK or
                // retransmission completes it once `accept` has made room. A full
                // backlog slows new connections down instead of resetting them.
                environment.counters.count(.acceptBacklogFull)
                return
            } else {
                entry.connection.process(header, payload: payload, now: now, environment: &environment, sink: &sink)
                entry.connection.transmit(now: now, environment: &environment, sink: &sink)
                afterEvent(id, entry)
                return
            }
        }
        if listeners[tuple.local.port] != nil {
            listenerReceive(header, payload: payload, tuple: tuple, now: now, sink: &sink)
            return
        }
        sendResetForClosedPort(header, payloadLength: payload.count, tuple: tuple, sink: &sink)
    }

    /// Returns whether `header` would move a SYN-RECEIVED connection to
    /// ESTABLISHED while its listener's accept queue has no room for it.
    func completesHandshakeIntoFullBacklog(_ entry: TCPConnectionEntry, _ header: TCPHeaderRepr) -> Bool {
        guard entry.inSynQueue, entry.connection.state == .synReceived,
              header.flags.contains(.ack), !header.flags.contains(.rst), !header.flags.contains(.syn),
              let port = entry.listenerPort else { return false }
        return isAcceptQueueFull(port: port)
    }

    func isAcceptQueueFull(port: UInt16) -> Bool {
        guard let listener = listeners[port] else { return false }
        return listener.acceptQueue.count >= listener.acceptBacklog
    }

    /// RFC 9293 §3.10.7.1: a segment for a connection that does not exist gets a RST, unless it is one.
    func sendResetForClosedPort<Sink: TCPSegmentSink>(_ header: TCPHeaderRepr, payloadLength: Int,
                                                      tuple: TCPFourTuple, sink: inout Sink) {
        environment.counters.count(.noSocket)
        guard !header.flags.contains(.rst) else { return }
        var reply: TCPHeaderRepr
        if header.flags.contains(.ack) {
            reply = TCPHeaderRepr(sourcePort: tuple.local.port, destinationPort: tuple.remote.port,
                                  sequenceNumber: header.acknowledgmentNumber, flags: .rst, window: 0)
        } else {
            let length = payloadLength + (header.flags.contains(.syn) ? 1 : 0) + (header.flags.contains(.fin) ? 1 : 0)
            reply = TCPHeaderRepr(sourcePort: tuple.local.port, destinationPort: tuple.remote.port,
                                  sequenceNumber: TCPSeq(0), acknowledgmentNumber: header.sequenceNumber + length,
                                  flags: [.rst, .ack], window: 0)
        }
        sendStateless(reply, sink: &sink)
        environment.counters.count(.closedPort)
    }

    func sendStateless<Sink: TCPSegmentSink>(_ header: TCPHeaderRepr, sink: inout Sink) {
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        _ = sink.send(header, first: empty, second: empty)
        environment.counters.segmentsSent += 1
    }

    /// Moves a connection between queues after an event and removes it when finished.
    func afterEvent(_ id: TCPConnectionID) {
        guard let entry = entries[id] else { return }
        afterEvent(id, entry)
    }

    func afterEvent(_ id: TCPConnectionID, _ entry: TCPConnectionEntry) {
        let state = entry.connection.state
        let socketOwned = entry.socketOwned
        let listenerPort = entry.listenerPort

        if entry.inSynQueue && state != .synReceived {
            entry.inSynQueue = false
            if let port = listenerPort { listeners[port]?.synQueueCount -= 1 }
            if state != .closed, let port = listenerPort {
                if let listener = listeners[port], listener.acceptQueue.count < listener.acceptBacklog {
                    listeners[port]?.acceptQueue.append(id)
                } else {
                    environment.counters.count(.acceptBacklogFull)
                    entry.connection.abort(reason: .resourceLimit)
                    pendingTransmit.insert(id)
                    return
                }
            }
        }

        if state == .timeWait && !socketOwned && entry.connection.receiveBuffer.capacity > 0 {
            // Nothing is left to send or read: TIME-WAIT keeps only the sequence numbers.
            entry.connection.releaseBuffers(budget: &environment.budget)
        }

        if state == .closed {
            let tuple = TCPFourTuple(local: entry.connection.local, remote: entry.connection.remote)
            if table[tuple] == id { table[tuple] = nil }
            if !socketOwned { removeConnection(id) }
        }
    }

    /// Frees a connection's slot, buffers and queue places.
    func removeConnection(_ id: TCPConnectionID) {
        guard let entry = entries.removeValue(forKey: id) else { return }
        let tuple = TCPFourTuple(local: entry.connection.local, remote: entry.connection.remote)
        if table[tuple] == id { table[tuple] = nil }
        if let port = entry.listenerPort {
            if entry.inSynQueue { listeners[port]?.synQueueCount -= 1 }
            listeners[port]?.acceptQueue.removeAll { $0 == id }
        }
        entry.connection.releaseBuffers(budget: &environment.budget)
        pendingTransmit.remove(id)
    }

    func insertConnection(_ connection: TCPConnection, listenerPort: UInt16?, socketOwned: Bool,
                          inSynQueue: Bool) -> TCPConnectionID {
        let id = TCPConnectionID(rawValue: nextID)
        nextID += 1
        entries[id] = TCPConnectionEntry(connection: connection, listenerPort: listenerPort,
                                         socketOwned: socketOwned, inSynQueue: inSynQueue)
        table[TCPFourTuple(local: connection.local, remote: connection.remote)] = id
        if inSynQueue, let port = listenerPort { listeners[port]?.synQueueCount += 1 }
        return id
    }

    // MARK: Sequence numbers (RFC 6528) and ports (RFC 6056)

    /// Domain separators so the ISN, timestamp offset, cookie and port hashes differ.
    enum HashDomain: UInt8 {
        case initialSequence = 1, timestampOffset, synCookie, ephemeralPort
    }

    static let hashInputLength = 21

    func keyedHash(_ domain: HashDomain, tuple: TCPFourTuple, extra: UInt32 = 0, extra2: UInt32 = 0) -> UInt64 {
        // domain(1) local address(4) local port(2) remote address(4) remote port(2) extra(4) extra2(4)
        withUnsafeTemporaryAllocation(byteCount: Self.hashInputLength, alignment: 1) { bytes in
            bytes[0] = domain.rawValue
            writeUInt32(bytes, 1, tuple.local.address.rawValue)
            writeUInt16(bytes, 5, tuple.local.port)
            writeUInt32(bytes, 7, tuple.remote.address.rawValue)
            writeUInt16(bytes, 11, tuple.remote.port)
            writeUInt32(bytes, 13, extra)
            writeUInt32(bytes, 17, extra2)
            return configuration.isnHash.hash(UnsafeRawBufferPointer(bytes))
        }
    }

    /// RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey),
    /// M a timer ticking every 4 microseconds.
    func initialSequenceNumber(tuple: TCPFourTuple, now: Instant) -> TCPSeq {
        let ticks = UInt32(truncatingIfNeeded: now.nanoseconds / Self.isnTickNanoseconds)
        return TCPSeq(ticks &+ UInt32(truncatingIfNeeded: keyedHash(.initialSequence, tuple: tuple)))
    }

    /// RFC 9293 §3.4.1: the ISN clock ticks every 4 microseconds.
    static let isnTickNanoseconds: Int64 = 4_000

    /// RFC 7323 §5.4: a per-connection offset hides the host's timestamp clock.
    func timestampOffset(tuple: TCPFourTuple) -> UInt32 {
        UInt32(truncatingIfNeeded: keyedHash(.timestampOffset, tuple: tuple))
    }

    // MARK: Output

    /// Runs `body` with a sink that sends through `output` for `tuple`.
    func withSink<Output: IPv4Output>(tuple: TCPFourTuple, output: inout Output,
                                      _ body: (inout TCPOutputSink<Output>) -> Void) {
        withUnsafeMutablePointer(to: &output) { pointer in
            var sink = TCPOutputSink(output: pointer, source: tuple.local.address, destination: tuple.remote.address)
            body(&sink)
        }
    }
}

/// Writes segments into IPv4 datagrams: header, payload, then the checksum.
struct TCPOutputSink<Output: IPv4Output>: TCPSegmentSink {
    /// Valid for the duration of `TCPLayer.withSink` only.
    let output: UnsafeMutablePointer<Output>
    let source: IPv4Address
    let destination: IPv4Address

    mutating func send(_ header: TCPHeaderRepr, first: UnsafeRawBufferPointer, second: UnsafeRawBufferPointer) -> Bool {
        let headerLength = header.headerLength
        let total = headerLength + first.count + second.count
        return output.pointee.send(source: source, destination: destination, protocolNumber: .tcp,
                                   payloadLength: total) { buffer in
            let segment = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<total])
            header.emit(into: segment)
            if first.count > 0 {
                UnsafeMutableRawBufferPointer(rebasing: segment[headerLength..<headerLength + first.count])
                    .copyMemory(from: first)
            }
            if second.count > 0 {
                UnsafeMutableRawBufferPointer(rebasing: segment[(headerLength + first.count)...])
                    .copyMemory(from: second)
            }
            TCPHeaderRepr.fillChecksum(segment: segment, source: source, destination: destination)
        }
    }
}
