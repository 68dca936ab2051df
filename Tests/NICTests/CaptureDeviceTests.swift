import Foundation
import Testing
import CapnetBase
@testable import NIC

/// Capture files written by CaptureDevice, read back by tshark and capinfos
/// (Wireshark 4.0 on Debian 12): the readers are the reference here.
@Suite struct CaptureDeviceTests {
    let now = Instant(nanoseconds: 1_000_000_000)
    let macA = MemoryLinkDevice.defaultMACAddresses.0
    let macB = MemoryLinkDevice.defaultMACAddresses.1

    /// Builds an ARP reply from `sender` to `target`, a frame every reader decodes.
    func arp(from sender: MACAddress, to target: MACAddress, last octet: UInt8) -> [UInt8] {
        Wire.arpReply(senderMAC: sender, senderIP: [192, 0, 2, octet], targetMAC: target, targetIP: [192, 0, 2, 1])
    }

    /// Sends three frames out of the captured end and two into it.
    func exchange(through capture: CaptureDevice, peer: MemoryLinkDevice) throws {
        for i in 0..<3 { try capture.send(arp(from: macA, to: macB, last: UInt8(10 + i)), now: now) }
        for i in 0..<2 { try peer.send(arp(from: macB, to: macA, last: UInt8(20 + i)), now: now) }
        let received = try capture.receiveAll(now: now)
        #expect(received.count == 2)
    }

    func tsharkFields(_ path: String, _ fields: [String]) throws -> [[String]] {
        var arguments = ["tshark", "-r", path, "-T", "fields", "-E", "separator=|"]
        for field in fields { arguments += ["-e", field] }
        let result = try Shell.run(arguments)
        return result.output.split(separator: "\n").filter { !$0.hasPrefix("Running as") }
            .map { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) }
    }

    @Test func pcapngRecordsDirectionAndNanoseconds() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("link.pcapng")
        let (a, b) = MemoryLinkDevice.makePair()
        let before = wallClockNanoseconds()
        let capture = try CaptureDevice(wrapping: a, path: path)
        try exchange(through: capture, peer: b)
        capture.close()
        let after = wallClockNanoseconds()
        #expect(capture.capturedFrames == 5)
        #expect(capture.writeErrors == 0)

        let rows = try tsharkFields(path, ["frame.packet_flags_direction", "eth.src", "arp.src.proto_ipv4", "frame.time_epoch"])
        #expect(rows.count == 5)
        guard rows.count == 5 else { return }
        // epb_flags direction: 2 outbound (sent by the stack), 1 inbound.
        #expect(rows.map { UInt32($0[0].dropFirst(2), radix: 16) } == [2, 2, 2, 1, 1])
        #expect(rows.map { $0[1] } == ["02:00:00:00:00:01", "02:00:00:00:00:01", "02:00:00:00:00:01",
                                       "02:00:00:00:00:02", "02:00:00:00:00:02"])
        #expect(rows.map { $0[2] } == ["192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.20", "192.0.2.21"])
        for row in rows {
            try expectNanosecondTimestamp(row[3], between: before, and: after)
        }

        let info = try Shell.run(["capinfos", "-t", "-u", "-c", "-M", path]).output
        #expect(info.contains("File type:           pcapng"), "\(info)")
        #expect(info.contains("Number of packets:   5"), "\(info)")
    }

    @Test func pcapRecordsNanoseconds() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("link.pcap")
        let (a, b) = MemoryLinkDevice.makePair()
        let before = wallClockNanoseconds()
        let capture = try CaptureDevice(wrapping: a, path: path)
        try exchange(through: capture, peer: b)
        capture.close()
        let after = wallClockNanoseconds()

        let rows = try tsharkFields(path, ["eth.src", "arp.src.proto_ipv4", "frame.time_epoch"])
        #expect(rows.map { $0[1] } == ["192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.20", "192.0.2.21"])
        for row in rows where row.count == 3 {
            try expectNanosecondTimestamp(row[2], between: before, and: after)
        }
        let info = try Shell.run(["capinfos", "-t", path]).output
        #expect(info.contains("nanosecond pcap"), "\(info)")
        // The nanosecond pcap magic, little-endian (0xA1B23C4D).
        let magic = try Data(contentsOf: URL(fileURLWithPath: path)).prefix(4)
        #expect(Array(magic) == [0x4D, 0x3C, 0xB2, 0xA1])
    }

    @Test func captureIsReadableBeforeClose() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        for name in ["open.pcapng", "open.pcap"] {
            let path = dir.path(name)
            let (a, _) = MemoryLinkDevice.makePair()
            let capture = try CaptureDevice(wrapping: a, path: path)
            defer { capture.close() }
            try capture.send(arp(from: macA, to: macB, last: 10), now: now)
            try capture.send(arp(from: macA, to: macB, last: 11), now: now)
            // Flushed after each batch: a crash now would keep both frames.
            let rows = try tsharkFields(path, ["arp.src.proto_ipv4"])
            #expect(rows.map { $0[0] } == ["192.0.2.10", "192.0.2.11"], "\(name)")
        }
    }

    @Test func pcapngEmbedsTLSKeyLog() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("secrets.pcapng")
        let (a, b) = MemoryLinkDevice.makePair()
        let capture = try CaptureDevice(wrapping: a, path: path)
        try capture.send(arp(from: macA, to: macB, last: 10), now: now)
        // A key log line of the NSS format; odd length checks the padding.
        let random = String(repeating: "ab", count: 32)
        let secret = String(repeating: "cd", count: 48)
        try capture.appendTLSKeyLog("CLIENT_HANDSHAKE_TRAFFIC_SECRET \(random) \(secret)x")
        try b.send(arp(from: macB, to: macA, last: 20), now: now)
        _ = try capture.receiveAll(now: now)
        capture.close()

        let info = try Shell.run(["capinfos", "-D", path]).output
        #expect(info.contains("Number of decryption secrets in file: 1"), "\(info)")
        let rows = try tsharkFields(path, ["arp.src.proto_ipv4"])
        #expect(rows.map { $0[0] } == ["192.0.2.10", "192.0.2.20"])
        // editcap can drop the secrets block: what remains must still be a
        // valid capture of both frames.
        let stripped = dir.path("stripped.pcapng")
        try Shell.run(["editcap", "--discard-all-secrets", path, stripped])
        let strippedInfo = try Shell.run(["capinfos", "-D", "-c", stripped]).output
        // capinfos 4.0 prints the secrets line only when there are some.
        #expect(!strippedInfo.contains("decryption secrets"), "\(strippedInfo)")
        #expect(strippedInfo.contains("Number of packets:   2"), "\(strippedInfo)")
    }

    @Test func unknownExtensionIsRejected() throws {
        let (a, _) = MemoryLinkDevice.makePair()
        #expect(throws: DeviceError.self) { try CaptureDevice(wrapping: a, path: "/tmp/capture.txt") }
    }

    @Test func pcapCannotHoldSecrets() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (a, _) = MemoryLinkDevice.makePair()
        let capture = try CaptureDevice(wrapping: a, path: dir.path("plain.pcap"))
        defer { capture.close() }
        do {
            try capture.appendTLSKeyLog("CLIENT_RANDOM 00 11")
            Issue.record("classic pcap accepted TLS secrets")
        } catch let error as DeviceError {
            #expect(error.code == .invalidArgument)
            #expect(error.description.contains(".pcapng"))
        }
    }

    @Test func missingDirectoryNamesPath() throws {
        let (a, _) = MemoryLinkDevice.makePair()
        for path in ["/nonexistent-capnet-dir/x.pcapng", "/nonexistent-capnet-dir/x.pcap"] {
            do {
                _ = try CaptureDevice(wrapping: a, path: path)
                Issue.record("created \(path)")
            } catch let error as DeviceError {
                #expect(error.code == .ioFailure)
                #expect(error.description.contains(path))
            }
        }
    }

    /// Checks that tshark printed nine fractional digits and that the time
    /// lies in the window the test measured.
    func expectNanosecondTimestamp(_ text: String, between before: Int64, and after: Int64) throws {
        let parts = text.split(separator: ".")
        #expect(parts.count == 2, "not seconds.fraction: \(text)")
        guard parts.count == 2, let seconds = Int64(parts[0]), let fraction = Int64(parts[1]) else { return }
        #expect(parts[1].count == 9, "not nanoseconds: \(text)")
        let nanos = seconds * 1_000_000_000 + fraction
        #expect(nanos >= before, "timestamp \(nanos) before the capture started at \(before)")
        #expect(nanos <= after, "timestamp \(nanos) after the capture ended at \(after)")
    }
}
