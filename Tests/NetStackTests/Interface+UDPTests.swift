import CapnetBase
import HostSim
import NIC
import Testing
@testable import NetStack

@Suite struct InterfaceUDPTests {
    static let peer = IPv4Endpoint(address: TestAddresses.peerIP, port: 40000)

    @Test func echoServiceEchoesByteForByte() throws {
        let harness = try InterfaceHarness()
        harness.learnPeer()
        let echo = try UDPEchoService.start(on: harness.interface, port: 7)
        let sent = harness.exchange(ScapyVectors.udpToPort7)
        #expect(sent.map(hex) == [hex(ScapyVectors.udpEchoFromPort7)])
        #expect(echo.echoedDatagrams == 1)
        #expect(harness.interface.counters.udpDatagramsReceived == 1)
        #expect(harness.interface.counters.udpDatagramsSent == 1)
    }

    @Test func closedPortGetsPortUnreachable() throws {
        let harness = try InterfaceHarness()
        harness.learnPeer()
        let sent = harness.exchange(ScapyVectors.udpToClosedPort)
        #expect(sent.map(hex) == [hex(ScapyVectors.portUnreachable)])
        #expect(harness.interface.counters[drop: .udpNoSocket] == 1)
    }

    @Test func noUnreachableAboutBroadcast() throws {
        let harness = try InterfaceHarness()
        harness.learnPeer()
        #expect(harness.exchange(ScapyVectors.udpToBroadcastClosedPort).isEmpty)
        #expect(harness.interface.counters[drop: .udpNoSocket] == 1)
    }

    @Test func broadcastReachesBoundSocket() throws {
        let harness = try InterfaceHarness()
        let socket = try harness.interface.bindUDP(port: 9999)
        harness.exchange(ScapyVectors.udpToBroadcastClosedPort)
        let datagram = socket.receive()
        #expect(datagram?.payload == Array("broadcast".utf8))
        #expect(datagram?.destination == IPv4Endpoint(address: IPv4Address(192, 0, 2, 255), port: 9999))
        #expect(datagram?.source == IPv4Endpoint(address: TestAddresses.peerIP, port: 40003))
    }

    @Test func secondBindOfPortFails() throws {
        let harness = try InterfaceHarness()
        let first = try harness.interface.bindUDP(port: 7)
        #expect(throws: UDPSocketError.portInUse(7)) { try harness.interface.bindUDP(port: 7) }
        first.close()
        let again = try harness.interface.bindUDP(port: 7)
        #expect(again.localPort == 7)
        #expect(throws: UDPSocketError.closed(7)) { try first.send([1], to: Self.peer) }
    }

    @Test func portZeroPicksEphemeralPort() throws {
        let harness = try InterfaceHarness()
        let first = try harness.interface.bindUDP(port: 0)
        let second = try harness.interface.bindUDP(port: 0)
        #expect(first.localPort == 49152)
        #expect(second.localPort == 49153)
    }

    @Test func receiveQueueIsBounded() throws {
        let harness = try InterfaceHarness { $0.udpReceiveQueueCapacity = 2 }
        let socket = try harness.interface.bindUDP(port: 7)
        harness.exchange(ScapyVectors.udpToPort7, ScapyVectors.udpToPort7, ScapyVectors.udpToPort7)
        #expect(socket.pendingCount == 2)
        #expect(socket.receiveQueueOverflows == 1)
        #expect(harness.interface.counters[drop: .udpReceiveQueueFull] == 1)
        #expect(socket.receive() != nil)
        #expect(socket.receive() != nil)
        #expect(socket.receive() == nil)
    }

    @Test func largeSendIsFragmented() throws {
        let harness = try InterfaceHarness()
        harness.learnPeer()
        let socket = try harness.interface.bindUDP(port: 5000)
        let payload = (0..<3000).map { UInt8(truncatingIfNeeded: $0 * 13) }
        let accepted = try socket.send(payload, to: IPv4Endpoint(address: TestAddresses.peerIP, port: 6000))
        #expect(accepted)
        let sent = harness.exchange()
        #expect(sent.map(hex) == [ScapyVectors.udpLargeFragment0, ScapyVectors.udpLargeFragment1,
                                  ScapyVectors.udpLargeFragment2].map(hex))
    }

    @Test func oversizePayloadIsRejected() throws {
        let harness = try InterfaceHarness()
        let socket = try harness.interface.bindUDP(port: 5000)
        let payload = [UInt8](repeating: 0, count: UDPDatagram.maximumPayloadLength + 1)
        #expect(throws: UDPSocketError.payloadTooLarge(payload.count)) { try socket.send(payload, to: Self.peer) }
        #expect(throws: UDPSocketError.invalidDestination(IPv4Endpoint(address: TestAddresses.peerIP, port: 0))) {
            try socket.send([1], to: IPv4Endpoint(address: TestAddresses.peerIP, port: 0))
        }
    }

    @Test func offLinkWithoutGatewayHasNoRoute() throws {
        let harness = try InterfaceHarness()
        let socket = try harness.interface.bindUDP(port: 5000)
        let accepted = try socket.send([1], to: IPv4Endpoint(address: TestAddresses.offLinkIP, port: 53))
        #expect(!accepted)
        #expect(harness.interface.counters[drop: .noRoute] == 1)
        #expect(harness.exchange().isEmpty)
    }

    @Test func offLinkGoesThroughGateway() throws {
        let harness = try InterfaceHarness(gateway: TestAddresses.gatewayIP)
        harness.exchange()
        let socket = try harness.interface.bindUDP(port: 5000)
        let accepted = try socket.send([1], to: IPv4Endpoint(address: TestAddresses.offLinkIP, port: 53))
        #expect(accepted)
        let sent = harness.exchange()
        let arp = try withBytes(Array(sent[0].dropFirst(14))) { try ARPRepr.parse($0) }
        #expect(arp.operation == .request)
        #expect(arp.targetProtocolAddress == TestAddresses.gatewayIP)
    }

    @Test func gatewayOffSubnetIsRejected() {
        let device = ScriptedDevice(macAddress: TestAddresses.ourMAC)
        let configuration = Interface.Configuration(address: TestAddresses.network, gateway: TestAddresses.offLinkIP)
        #expect(throws: InterfaceError.self) { try Interface(device: device, configuration: configuration) }
    }
}

@Suite struct UDPSocketCapabilityTests {
    @Test func socketSeesOnlyItsOwnPort() throws {
        let harness = try InterfaceHarness()
        harness.learnPeer()
        let seven = try harness.interface.bindUDP(port: 7)
        let eight = try harness.interface.bindUDP(port: 8)
        harness.exchange(ScapyVectors.udpToPort7)
        #expect(eight.receive() == nil)
        #expect(seven.receive()?.payload == Array("hello, capnet".utf8))
    }

    @Test func sendsComeFromSocketPort() throws {
        let harness = try InterfaceHarness()
        harness.learnPeer()
        let socket = try harness.interface.bindUDP(port: 7)
        try socket.send(Array("hello, capnet".utf8), to: IPv4Endpoint(address: TestAddresses.peerIP, port: 40000))
        #expect(harness.exchange().map(hex) == [hex(ScapyVectors.udpEchoFromPort7)])
    }
}

@Suite struct UDPSocketLifetimeTests {
    @Test func interfaceWithEchoServiceIsFreed() throws {
        weak var weakInterface: Interface?
        var socket: UDPSocket?
        do {
            let harness = try InterfaceHarness()
            let echo = try UDPEchoService.start(on: harness.interface, port: 7)
            socket = echo.socket
            weakInterface = harness.interface
        }
        #expect(weakInterface == nil)
        #expect(throws: UDPSocketError.closed(7)) {
            try socket?.send([1], to: IPv4Endpoint(address: TestAddresses.peerIP, port: 9))
        }
    }
}
