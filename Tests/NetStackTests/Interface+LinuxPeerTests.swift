import CapnetBase
import HostSim
import NIC
import Testing
@testable import NetStack

/// Replays a capture of Linux kernels and expects exactly the bytes the
/// kernel at 192.0.2.2 sent, with capnet standing in for that kernel.
@Suite struct InterfaceLinuxPeerTests {
    @Test func arpReplyMatchesLinux() throws {
        let harness = try InterfaceHarness()
        let sent = harness.exchange(LinuxCaptureVectors.linuxARPRequest)
        #expect(sent.map(hex) == [hex(LinuxCaptureVectors.linuxARPReply)])
    }

    @Test func fragmentedPingReplyMatchesLinux() throws {
        let harness = try InterfaceHarness {
            $0.initialIdentification = LinuxCaptureVectors.replyIdentification
        }
        harness.exchange(LinuxCaptureVectors.linuxARPRequest)
        let sent = harness.exchange(LinuxCaptureVectors.linuxPingFragment0, LinuxCaptureVectors.linuxPingFragment1,
                                    LinuxCaptureVectors.linuxPingFragment2)
        let expected = [LinuxCaptureVectors.linuxReplyFragment0, LinuxCaptureVectors.linuxReplyFragment1,
                        LinuxCaptureVectors.linuxReplyFragment2]
        #expect(sent.count == expected.count)
        for (ours, linux) in zip(sent, expected) {
            #expect(hex(ours) == hex(linux))
        }
    }
}
