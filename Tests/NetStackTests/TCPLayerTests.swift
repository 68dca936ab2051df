import CapnetBase
import HostSim
import Testing
@testable import NetStack

/// The layer: capabilities, bounds, services, connection info.
@Suite struct TCPLayerTests {
    @Test func listenerOnlyAcceptsItsOwnPort() {
        let script = TCPScript(layerPort: 443)
        let other = try! script.layer.listen(port: 8443)  // fresh port
        script.handshake()
        #expect(script.socket != nil)
        #expect(script.socket?.local.port == 443)
        #expect(other.accept() == nil)
        #expect(other.pendingConnections == 0)

        // A second listener on the same port is refused.
        let duplicate: TCPError?
        do { _ = try script.layer.listen(port: 443); duplicate = nil } catch { duplicate = error }
        #expect(duplicate == .addressInUse)
    }

    @Test func acceptBacklogBoundDelaysExtraConnections() {
        let script = TCPScript(timestamps: false) { $0.acceptBacklog = 1 }
        script.handshake()
        #expect(script.socket != nil)  // accepted: frees its backlog place

        let second = TCPScript.handshakeWithoutAccept(script, port: 41000)
        #expect(second)

        // The third handshake's ACK finds the backlog full. Like Linux with
        // tcp_abort_on_overflow off, the layer drops it and sends no RST.
        let port: UInt16 = 41001
        let isn = TCPSeq(0x3000_0000)
        let synAck = script.peer.send(TCPHeaderRepr(sourcePort: port, destinationPort: script.layerPort,
                                                    sequenceNumber: isn, flags: .syn, window: 65535,
                                                    options: TCPOptions(maximumSegmentSize: 1460)))
        let reply = try! #require(synAck.first)  // the SYN queue has room
        let ack = TCPHeaderRepr(sourcePort: port, destinationPort: script.layerPort, sequenceNumber: isn + 1,
                                acknowledgmentNumber: reply.header.sequenceNumber + 1, flags: .ack, window: 65535)
        let dropped = script.peer.send(ack)
        #expect(dropped.isEmpty)
        #expect(script.layer.counters[drop: .acceptBacklogFull] == 1)
        #expect(script.layer.counters[reset: .resourceLimit] == 0)
        #expect(script.listener?.pendingConnections == 1)
        let third = script.layer.connectionInfos().first { $0.remote.port == port }
        #expect(third?.state == .synReceived)

        // Once `accept` makes room, the peer's next ACK completes the handshake.
        let accepted = script.listener?.accept()
        #expect(accepted?.remote.port == 41000)
        script.peer.send(ack)
        let completed = script.listener?.accept()
        #expect(completed?.remote.port == port)
        #expect(completed?.state == .established)
    }

    @Test func cookieHandshakeWaitsForBacklogRoom() {
        // Every SYN gets a cookie; the backlog holds one connection.
        let script = TCPScript(timestamps: false) {
            $0.synQueueLimit = 0
            $0.acceptBacklog = 1
        }
        let first = TCPScript.handshakeWithoutAccept(script, port: 41000)
        #expect(first)
        #expect(script.listener?.pendingConnections == 1)

        // A second cookie handshake completes while the backlog is full: its
        // ACK is dropped, and so is the data after it, which has moved past the
        // sequence number the cookie validates.
        let port: UInt16 = 41001
        let isn = TCPSeq(0x3000_0000)
        let synAck = script.peer.send(TCPHeaderRepr(sourcePort: port, destinationPort: script.layerPort,
                                                    sequenceNumber: isn, flags: .syn, window: 65535,
                                                    options: TCPOptions(maximumSegmentSize: 1460)))
        let reply = try! #require(synAck.first)  // a cookie SYN-ACK
        let layerNext = reply.header.sequenceNumber + 1
        let ack = TCPHeaderRepr(sourcePort: port, destinationPort: script.layerPort, sequenceNumber: isn + 1,
                                acknowledgmentNumber: layerNext, flags: .ack, window: 65535)
        let afterAck = script.peer.send(ack)
        #expect(afterAck.isEmpty)
        let data = TCPHeaderRepr(sourcePort: port, destinationPort: script.layerPort, sequenceNumber: isn + 1,
                                 acknowledgmentNumber: layerNext, flags: [.ack, .psh], window: 65535)
        let later = TCPHeaderRepr(sourcePort: port, destinationPort: script.layerPort, sequenceNumber: isn + 101,
                                  acknowledgmentNumber: layerNext, flags: [.ack, .psh], window: 65535)
        let afterLater = script.peer.send(later, payload: [UInt8](repeating: 2, count: 100))
        #expect(!afterLater.contains { $0.header.flags.contains(.rst) })
        #expect(script.layer.counters[reset: .resourceLimit] == 0)
        #expect(script.layer.counters[reset: .listenerAck] == 0)
        #expect(script.layer.connectionInfos().first { $0.remote.port == port }?.state == .synReceived)

        // With room in the backlog, the retransmitted first segment completes it.
        #expect(script.listener?.accept()?.remote.port == 41000)
        script.peer.send(data, payload: [UInt8](repeating: 1, count: 100))
        let socket = script.listener?.accept()
        #expect(socket?.remote.port == port)
        // The dropped later segment is the peer's to retransmit.
        var buffer = [UInt8](repeating: 0, count: 300)
        let read = buffer.withUnsafeMutableBytes { (try? socket?.read(into: $0)) ?? 0 }
        #expect(read == 100)
        #expect(buffer[0..<100].allSatisfy { $0 == 1 })
    }

    @Test func globalMemoryBoundRejectsNewConnections() {
        // Two connections' first receive buffers fit the budget; a third does not.
        let script = TCPScript(timestamps: false) { $0.globalBufferLimit = 2 * TCPRingBuffer.initialCapacity }
        script.handshake()
        let second = TCPScript.handshakeWithoutAccept(script, port: 41000)
        #expect(second)
        script.send(TCPHeaderRepr(sourcePort: 41001, destinationPort: 80, sequenceNumber: TCPSeq(5), flags: .syn,
                                  window: 1000))
        #expect(script.layer.counters[drop: .memoryLimit] == 1)
        #expect(script.layer.memoryBudget.inUse == 2 * TCPRingBuffer.initialCapacity)
    }

    @Test func connectionInfoUsesRFCStateNames() {
        let script = TCPScript()
        script.handshake()
        let infos = script.layer.connectionInfos()
        #expect(infos.count == 1)
        let info = infos.first
        #expect(info?.state.description == "ESTABLISHED")
        #expect(info?.congestionControl == .cubic)
        #expect(info?.local == IPv4Endpoint(address: TCPScript.layerAddress, port: 80))
        #expect(info?.remote == IPv4Endpoint(address: TCPScript.peerAddress, port: 40000))
        #expect(info?.congestionWindow == 14480)  // RFC 6928: min(10 * 1448, max(2 * 1448, 14600))
        let names = TCPState.allCases.map(\.description)
        #expect(names == ["CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2",
                          "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT"])
        let labels = Set(TCPDropReason.allCases.map(\.label))
        #expect(labels.count == TCPDropReason.allCases.count)
        #expect(labels.allSatisfy { $0.allSatisfy { $0.isLowercase || $0 == "_" } })
    }

    @Test func echoServiceReturnsBytesAndDiscardSwallowsThem() {
        // RFC 862 and RFC 863 over the simulated link.
        let network = TCPSimulatedNetwork(seed: 7, impairments: TCPLinkImpairments(loss: 0.02, delay: .milliseconds(5)))
        let server = TCPLayer(configuration: TCPTestSupport.configuration(address: TCPTestSupport.serverAddress))
        let client = TCPLayer(configuration: TCPTestSupport.configuration(address: TCPTestSupport.clientAddress))
        network.addHost(server)
        network.addHost(client)
        let echo = TCPEchoService(listener: try! server.listen(port: 7))  // fresh layer
        let discard = TCPDiscardService(listener: try! server.listen(port: 9))  // fresh layer
        let now = network.clock.now()
        let echoSocket = try! client.connect(to: IPv4Endpoint(address: TCPTestSupport.serverAddress, port: 7), now: now)
        let discardSocket = try! client.connect(to: IPv4Endpoint(address: TCPTestSupport.serverAddress, port: 9), now: now)

        let payload = TCPTestSupport.bytes(count: 300_000, seed: 9)
        var echoed: [UInt8] = []
        var echoWritten = 0
        var discardWritten = 0
        var buffer = [UInt8](repeating: 0, count: 8192)
        let done = network.run(for: .seconds(300), tick: {
            echo.poll()
            discard.poll()
            if echoWritten < payload.count && echoSocket.readiness.contains(.writable) {
                echoWritten += payload.withUnsafeBytes {
                    (try? echoSocket.write(UnsafeRawBufferPointer(rebasing: $0[echoWritten...]))) ?? 0
                }
                if echoWritten == payload.count { echoSocket.shutdown() }
            }
            if discardWritten < payload.count && discardSocket.readiness.contains(.writable) {
                discardWritten += payload.withUnsafeBytes {
                    (try? discardSocket.write(UnsafeRawBufferPointer(rebasing: $0[discardWritten...]))) ?? 0
                }
                if discardWritten == payload.count { discardSocket.shutdown() }
            }
            while true {
                let n = buffer.withUnsafeMutableBytes { (try? echoSocket.read(into: $0)) ?? 0 }
                if n == 0 { break }
                echoed.append(contentsOf: buffer[0..<n])
            }
        }, condition: { echoSocket.isEndOfStream && discardSocket.isEndOfStream })
        #expect(done)
        #expect(echoed.count == payload.count)
        #expect(TCPTestSupport.digest(echoed) == TCPTestSupport.digest(payload))
        #expect(echo.bytesEchoed == UInt64(payload.count))
        #expect(discard.bytesDiscarded == UInt64(payload.count))
    }

    @Test func minutesOfVirtualTimeRunInSeconds() {
        // Thirty virtual minutes of a trickle connection with keepalive, measured on the real clock.
        let wall = MonotonicTimeSource()
        let started = wall.now()
        let network = TCPSimulatedNetwork(seed: 3, impairments: TCPLinkImpairments(loss: 0.05, delay: .milliseconds(40)))
        let server = TCPLayer(configuration: TCPTestSupport.configuration(address: TCPTestSupport.serverAddress))
        let client = TCPLayer(configuration: TCPTestSupport.configuration(address: TCPTestSupport.clientAddress))
        network.addHost(server)
        network.addHost(client)
        let discard = TCPDiscardService(listener: try! server.listen(port: 9))  // fresh layer
        let socket = try! client.connect(to: IPv4Endpoint(address: TCPTestSupport.serverAddress, port: 9),
                                         now: network.clock.now())  // fresh layer
        var nextWrite = network.clock.now()
        var written = 0
        let chunk = [UInt8](repeating: 1, count: 100)
        let end = network.clock.now() + .seconds(1800)
        network.run(until: end, step: .seconds(1), tick: {
            discard.poll()
            if network.clock.now() >= nextWrite && socket.readiness.contains(.writable) {
                written += chunk.withUnsafeBytes { (try? socket.write($0)) ?? 0 }
                nextWrite = network.clock.now() + .seconds(10)
            }
        })
        let elapsed = wall.now() - started
        #expect(network.clock.now() >= end)
        #expect(written >= 17_000)
        #expect(discard.bytesDiscarded >= UInt64(written - 1000))
        #expect(elapsed < .seconds(20))
    }
}

extension TCPScript {
    /// Completes a handshake from another peer port without accepting it.
    static func handshakeWithoutAccept(_ script: TCPScript, port: UInt16) -> Bool {
        let isn = TCPSeq(0x2000_0000)
        let synAck = script.peer.send(TCPHeaderRepr(sourcePort: port, destinationPort: script.layerPort,
                                                    sequenceNumber: isn, flags: .syn, window: 65535,
                                                    options: TCPOptions(maximumSegmentSize: 1460)))
        guard let reply = synAck.first, reply.header.flags == [.syn, .ack] else { return false }
        script.peer.send(TCPHeaderRepr(sourcePort: port, destinationPort: script.layerPort, sequenceNumber: isn + 1,
                                       acknowledgmentNumber: reply.header.sequenceNumber + 1, flags: .ack,
                                       window: 65535))
        return true
    }
}

extension TCPLayerTests {
    @Test func connectionChurnLeavesNothingBehind() {
        // 100 short echo connections one after another over a lossy link; once
        // TIME-WAIT ends, both tables and both memory budgets are empty.
        let network = TCPSimulatedNetwork(seed: 900, impairments: TCPLinkImpairments(loss: 0.05, duplication: 0.02,
                                                                                     reordering: 0.05,
                                                                                     delay: .milliseconds(3)))
        var serverConfiguration = TCPTestSupport.configuration(address: TCPTestSupport.serverAddress)
        var clientConfiguration = TCPTestSupport.configuration(address: TCPTestSupport.clientAddress)
        serverConfiguration.maximumSegmentLifetime = .seconds(5)
        clientConfiguration.maximumSegmentLifetime = .seconds(5)
        let server = TCPLayer(configuration: serverConfiguration)
        let client = TCPLayer(configuration: clientConfiguration)
        network.addHost(server)
        network.addHost(client)
        let echo = TCPEchoService(listener: try! server.listen(port: 7))  // fresh layer
        let total = 100
        var completed = 0
        var failed = 0
        var current: TCPSocket?
        var received: [UInt8] = []
        var sent = false
        var buffer = [UInt8](repeating: 0, count: 4096)
        let payload = TCPTestSupport.bytes(count: 3000, seed: 900)
        let done = network.run(for: .seconds(2000), step: .milliseconds(100), tick: {
            echo.poll()
            if current == nil && completed + failed < total {
                current = try? client.connect(to: IPv4Endpoint(address: TCPTestSupport.serverAddress, port: 7),
                                              now: network.clock.now())
                received = []
                sent = false
            }
            guard let socket = current else { return }
            if !sent && socket.readiness.contains(.writable) {
                let n = payload.withUnsafeBytes { (try? socket.write($0)) ?? 0 }
                if n == payload.count {
                    socket.shutdown()
                    sent = true
                }
            }
            while true {
                let n = buffer.withUnsafeMutableBytes { (try? socket.read(into: $0)) ?? 0 }
                if n == 0 { break }
                received.append(contentsOf: buffer[0..<n])
            }
            if socket.isEndOfStream || socket.readiness.contains(.failed) {
                if received == payload { completed += 1 } else { failed += 1 }
                socket.close()
                current = nil
            }
        }, condition: { completed + failed >= total && server.connectionCount == 0 && client.connectionCount == 0 })
        #expect(done)
        #expect(completed == total)
        #expect(failed == 0)
        #expect(server.memoryBudget.inUse == 0)
        #expect(client.memoryBudget.inUse == 0)
        #expect(echo.activeSessions == 0)
    }
}
