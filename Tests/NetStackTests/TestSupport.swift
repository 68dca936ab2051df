import CapnetBase
import HostSim
import NIC
@testable import NetStack

/// Decodes a hex string such as "0a1b"; whitespace is ignored.
func hexBytes(_ text: String) -> [UInt8] {
    let digits = text.filter { !$0.isWhitespace }.map { UInt8(String($0), radix: 16)! }
    return stride(from: 0, to: digits.count, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

/// The addresses the scapy vectors use.
enum TestAddresses {
    static let ourMAC = MACAddress(0x02, 0, 0, 0, 0, 0x02)
    static let ourIP = IPv4Address(192, 0, 2, 2)
    static let peerMAC = MACAddress(0x02, 0, 0, 0, 0, 0x01)
    static let peerIP = IPv4Address(192, 0, 2, 1)
    static let gatewayIP = IPv4Address(192, 0, 2, 254)
    static let offLinkIP = IPv4Address(198, 51, 100, 7)
    static let network = IPv4Network(address: ourIP, prefixLength: 24)!
    /// The first IPv4 identification, as make_vectors.py assumes.
    static let firstIdentification: UInt16 = 0x1000
}

/// An interface on a scripted device under a virtual clock.
final class InterfaceHarness {
    let device: ScriptedDevice
    let clock = VirtualTimeSource()
    let interface: Interface

    init(mtu: Int = 1500, gateway: IPv4Address? = nil, gratuitousARP: Bool = false,
         configure: (inout Interface.Configuration) -> Void = { _ in }) throws {
        device = ScriptedDevice(macAddress: TestAddresses.ourMAC, mtu: mtu)
        var configuration = Interface.Configuration(address: TestAddresses.network, gateway: gateway)
        configuration.initialIdentification = TestAddresses.firstIdentification
        configuration.sendsGratuitousARP = gratuitousARP
        configure(&configuration)
        interface = try Interface(device: device, configuration: configuration)
    }

    var now: Instant { clock.now() }

    /// Injects frames, runs one turn and returns what was transmitted.
    @discardableResult
    func exchange(_ frames: [UInt8]...) -> [[UInt8]] {
        frames.forEach(device.inject)
        interface.poll(now: clock.now())
        return device.takeTransmitted()
    }

    /// Advances the clock, runs one turn and returns what was transmitted.
    func advance(by span: Nanoseconds) -> [[UInt8]] {
        clock.advance(by: span)
        interface.poll(now: clock.now())
        return device.takeTransmitted()
    }

    /// Teaches the interface the peer's MAC through an ARP request for us,
    /// and discards the reply.
    func learnPeer() {
        exchange(ScapyVectors.arpRequestForUs)
    }
}

/// Calls `body` with the bytes of `array`.
func withBytes<T>(_ array: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
    try array.withUnsafeBytes(body)
}

/// Emits into a zeroed buffer of `count` octets and returns it.
func emitted(count: Int, _ body: (UnsafeMutableRawBufferPointer) -> Void) -> [UInt8] {
    var buffer = [UInt8](repeating: 0, count: count)
    buffer.withUnsafeMutableBytes(body)
    return buffer
}
