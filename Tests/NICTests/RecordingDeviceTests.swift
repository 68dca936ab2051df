import Foundation
import Testing
import CapnetBase
@testable import NIC

/// Recordings started and stopped at run time on a RecordingDevice, read
/// back by tshark and capinfos (Wireshark 4.0 on Debian 12).
@Suite struct RecordingDeviceTests {
    let now = Instant(nanoseconds: 1_000_000_000)
    let macA = MemoryLinkDevice.defaultMACAddresses.0
    let macB = MemoryLinkDevice.defaultMACAddresses.1

    /// An ARP reply padded to the 60-byte Ethernet minimum, so a 104-byte
    /// pcapng Enhanced Packet Block (28 header, 60 data, 16 flags and trailer).
    func arp(from sender: MACAddress, to target: MACAddress, last octet: UInt8) -> [UInt8] {
        Wire.arpReply(senderMAC: sender, senderIP: [192, 0, 2, octet], targetMAC: target, targetIP: [192, 0, 2, 1])
    }

    /// The sender addresses (last octet) of the ARP frames tshark reads from `path`.
    func senders(_ path: String) throws -> [String] {
        let result = try Shell.run(["tshark", "-r", path, "-T", "fields", "-e", "arp.src.proto_ipv4"])
        return result.output.split(separator: "\n").filter { !$0.hasPrefix("Running as") }.map(String.init)
    }

    func fileSize(_ path: String) throws -> Int {
        try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? -1
    }

    @Test func recordsOnlyWhileActive() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (a, b) = MemoryLinkDevice.makePair()
        let device = RecordingDevice(wrapping: a)
        defer { device.close() }

        try device.send(arp(from: macA, to: macB, last: 10), now: now)
        let first = try device.startRecording(name: "first", path: dir.path("first.pcapng"))
        try device.send(arp(from: macA, to: macB, last: 11), now: now)
        let second = try device.startRecording(name: "second", path: dir.path("second.pcapng"))
        try b.send(arp(from: macB, to: macA, last: 20), now: now)
        let received = try device.receiveAll(now: now)
        #expect(received.count == 1)
        device.stopRecording(first)
        try device.send(arp(from: macA, to: macB, last: 12), now: now)
        device.stopRecording(second)
        try device.send(arp(from: macA, to: macB, last: 13), now: now)

        #expect(try senders(dir.path("first.pcapng")) == ["192.0.2.11", "192.0.2.20"])
        #expect(try senders(dir.path("second.pcapng")) == ["192.0.2.20", "192.0.2.12"])
        #expect(first.stopReason == .requested)
        #expect(first.frameCount == 2)
        #expect(device.activeRecordings.isEmpty)
        // Every frame reached the peer, recorded or not.
        #expect(try b.receiveAll(now: now).count == 4)

        let mode = try FileManager.default.attributesOfItem(atPath: dir.path("first.pcapng"))[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let direction = try Shell.run(["tshark", "-r", dir.path("second.pcapng"), "-T", "fields",
                                       "-e", "frame.packet_flags_direction"]).output
        // epb_flags direction: 1 inbound, 2 outbound.
        #expect(direction.split(separator: "\n").compactMap { UInt32($0.dropFirst(2), radix: 16) } == [1, 2])
    }

    @Test func maximumRecordingsEnforced() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (a, _) = MemoryLinkDevice.makePair()
        let device = RecordingDevice(wrapping: a, limits: .init(maximumRecordings: 2))
        defer { device.close() }

        let one = try device.startRecording(name: "one", path: dir.path("one.pcapng"))
        _ = try device.startRecording(name: "two", path: dir.path("two.pcapng"))
        #expect(throws: DeviceError.self) {
            _ = try device.startRecording(name: "three", path: dir.path("three.pcapng"))
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path("three.pcapng")))

        device.stopRecording(one)
        let three = try device.startRecording(name: "three", path: dir.path("three.pcapng"))
        #expect(three.isActive)
        #expect(device.activeRecordings.map(\.name) == ["two", "three"])
    }

    @Test func sizeLimitStopsRecording() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("small.pcapng")
        let (a, b) = MemoryLinkDevice.makePair()
        // Section header (44 bytes with shb_userappl "capnet"), interface
        // description (40 bytes with if_name "mem0" and if_tsresol), three
        // 104-byte packet blocks, and 40 bytes of room that fit no fourth one.
        let limit: UInt64 = 44 + 40 + 3 * 104 + 40
        let device = RecordingDevice(wrapping: a, limits: .init(maximumBytesPerRecording: limit))
        defer { device.close() }

        let recording = try device.startRecording(name: "small", path: path)
        for i in 0..<5 { try device.send(arp(from: macA, to: macB, last: UInt8(10 + i)), now: now) }

        #expect(recording.stopReason == .sizeLimitReached(limit))
        #expect(device.activeRecordings.isEmpty)
        #expect(try senders(path) == ["192.0.2.10", "192.0.2.11", "192.0.2.12"])
        let size = try fileSize(path)
        #expect(size <= Int(limit))
        #expect(UInt64(size) == recording.byteCount)
        // The file ends on a whole block: capinfos reads it without complaint.
        let info = try Shell.run(["capinfos", "-c", path]).output
        #expect(info.contains("Number of packets:   3"), "\(info)")
        // The frames kept flowing after the recording stopped.
        #expect(try b.receiveAll(now: now).count == 5)
    }

    @Test func keyLogGoesToActiveRecordings() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (a, _) = MemoryLinkDevice.makePair()
        let device = RecordingDevice(wrapping: a)

        let random = String(repeating: "ab", count: 32)
        let secret = String(repeating: "cd", count: 48)
        device.appendTLSKeyLog("CLIENT_TRAFFIC_SECRET_0 \(random) \(secret)")
        let active = try device.startRecording(name: "active", path: dir.path("active.pcapng"))
        let stopped = try device.startRecording(name: "stopped", path: dir.path("stopped.pcapng"))
        device.stopRecording(stopped)
        device.appendTLSKeyLog("SERVER_TRAFFIC_SECRET_0 \(random) \(secret)")
        try device.send(arp(from: macA, to: macB, last: 10), now: now)
        device.close()

        #expect(active.stopReason == .deviceClosed)
        let activeInfo = try Shell.run(["capinfos", "-D", dir.path("active.pcapng")]).output
        #expect(activeInfo.contains("Number of decryption secrets in file: 1"), "\(activeInfo)")
        let stoppedInfo = try Shell.run(["capinfos", "-D", dir.path("stopped.pcapng")]).output
        // capinfos 4.0 prints the secrets line only when there are some.
        #expect(!stoppedInfo.contains("decryption secrets"), "\(stoppedInfo)")
    }
}
