import CapnetBase
import HostSim
@testable import NetStack

/// Builders shared by the TCP tests.
enum TCPTestSupport {
    static let serverAddress = IPv4Address(192, 0, 2, 1)
    static let clientAddress = IPv4Address(192, 0, 2, 2)
    static let serverPort: UInt16 = 80

    static func configuration(address: IPv4Address, mtu: Int = 1500,
                              congestionControl: TCPCongestionControlAlgorithm = .cubic,
                              key: UInt64 = 0x5eed) -> TCPConfiguration {
        var configuration = TCPConfiguration(localAddress: address, mtu: mtu, isnHash: TCPTestMixingHash(key: key))
        configuration.congestionControl = congestionControl
        return configuration
    }

    /// Deterministic test data.
    static func bytes(count: Int, seed: UInt64) -> [UInt8] {
        var random = SeededRandom(seed: seed)
        var result = [UInt8](repeating: 0, count: count)
        var i = 0
        while i < count {
            var word = random.next()
            for _ in 0..<8 where i < count {
                result[i] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                i += 1
            }
        }
        return result
    }

    /// FNV-1a, 64 bits: a digest to compare transfers.
    static func digest(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }

    /// Result of a one-way bulk transfer through the simulator.
    struct TransferResult {
        var received: [UInt8]
        var completed: Bool
        var virtualTime: Nanoseconds
        var digest: UInt64
        var clientInfo: TCPConnectionInfo?
        var serverCounters: TCPCounters
        var clientCounters: TCPCounters
        var datagramsLost: Int
    }

    /// Sends `data` from a client to a server over a simulated link, then
    /// closes; returns what the server read and whether both sides finished.
    static func transfer(_ data: [UInt8], seed: UInt64, impairments: TCPLinkImpairments,
                         congestionControl: TCPCongestionControlAlgorithm = .cubic,
                         timeLimit: Nanoseconds = .seconds(600),
                         adjust: (inout TCPConfiguration) -> Void = { _ in }) -> TransferResult {
        let network = TCPSimulatedNetwork(seed: seed, impairments: impairments)
        var serverConfiguration = configuration(address: serverAddress, congestionControl: congestionControl)
        var clientConfiguration = configuration(address: clientAddress, congestionControl: congestionControl)
        adjust(&serverConfiguration)
        adjust(&clientConfiguration)
        let server = TCPLayer(configuration: serverConfiguration)
        let client = TCPLayer(configuration: clientConfiguration)
        network.addHost(server)
        network.addHost(client)

        let listener = try! server.listen(port: serverPort)  // a fresh layer has no listener on the port
        let start = network.clock.now()
        let socket = try! client.connect(to: IPv4Endpoint(address: serverAddress, port: serverPort), now: start)  // fresh layer

        var accepted: TCPSocket?
        var received: [UInt8] = []
        received.reserveCapacity(data.count)
        var written = 0
        var clientClosed = false
        var serverDone = false
        var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)

        let done = network.run(for: timeLimit, tick: {
            if written < data.count, socket.readiness.contains(.writable) {
                let n = data.withUnsafeBytes { bytes in
                    (try? socket.write(UnsafeRawBufferPointer(rebasing: bytes[written...]))) ?? 0
                }
                written += n
            }
            if written == data.count && !clientClosed {
                socket.close()
                clientClosed = true
            }
            if accepted == nil { accepted = listener.accept() }
            if let server = accepted, !serverDone {
                while true {
                    let n = readBuffer.withUnsafeMutableBytes { (try? server.read(into: $0)) ?? 0 }
                    if n == 0 { break }
                    received.append(contentsOf: readBuffer[0..<n])
                }
                if server.isEndOfStream {
                    server.close()
                    serverDone = true
                }
            }
        }, condition: { serverDone && client.connectionCount == 0 || (serverDone && socket.state == .closed) })

        return TransferResult(received: received, completed: done && received.count == data.count,
                              virtualTime: network.clock.now() - start, digest: digest(received),
                              clientInfo: socket.info, serverCounters: server.counters,
                              clientCounters: client.counters, datagramsLost: network.datagramsLost)
    }
}
