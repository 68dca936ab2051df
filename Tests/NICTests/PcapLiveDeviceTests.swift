import Testing
import CapnetBase
import CURing
@testable import NIC

@Suite(.serialized, .enabled(if: Privileges.canUseNamespaces, Privileges.skipReason))
struct PcapLiveDeviceTests {
    @Test func arpAndPingThroughVethInNamespace() throws {
        let ns = try TestNamespace()
        defer { ns.remove() }
        try ns.addVethPair("capveth0", "capveth1")
        let peerMAC = try NetworkNamespace.run(in: ns.name) { () -> MACAddress in
            var hw = [UInt8](repeating: 0, count: 6)
            guard capnet_if_get_hwaddr("capveth1", &hw) == 0 else { throw TestFailure("no MAC for capveth1") }
            return MACAddress(hw[0], hw[1], hw[2], hw[3], hw[4], hw[5])
        }

        let device = try PcapLiveDevice(interface: "capveth0", namespace: ns.name)
        defer { device.close() }
        #expect(device.mtu == 1500)
        #expect(device.macAddress != device.interfaceMACAddress)

        try exchangeARPAndPing(device: device, kernelMAC: peerMAC, namespace: ns)
        #expect(device.counters.transmittedFrames == 2)
        #expect(device.counters.transmitDropsError == 0)
    }

    @Test func missingInterfaceIsNotFound() throws {
        let ns = try TestNamespace()
        defer { ns.remove() }
        do {
            let device = try PcapLiveDevice(interface: "capnothere0", namespace: ns.name)
            device.close()
            Issue.record("opening a missing interface succeeded")
        } catch let error as DeviceError {
            #expect(error.code == .notFound)
            #expect(error.description.contains("capnothere0"))
        }
    }
}
