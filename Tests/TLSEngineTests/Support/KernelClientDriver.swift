import Foundation
@testable import TLSEngine

/// Runs a `TLSClientConnection` over a kernel TCP socket to 127.0.0.1 until
/// the server closes, the connection fails, or the deadline passes.
enum KernelClientDriver {
    struct Outcome {
        var events: [TLSEvent] = []
        var received: [UInt8] = []
        var text: String { String(decoding: received, as: UTF8.self) }
        var failure: TLSError? {
            for case .failed(let error) in events { return error }
            return nil
        }
        var parameters: NegotiatedParameters? {
            for case .handshakeCompleted(let parameters) in events { return parameters }
            return nil
        }
    }

    static func run(_ client: TLSClientConnection, port: UInt16, request: String, timeout: TimeInterval = 10) throws -> Outcome {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw FixtureError("socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw FixtureError("connect to port \(port) failed: errno \(errno)") }

        var outcome = Outcome()
        var requestSent = false
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 1 << 14)
        while Date() < deadline {
            let output = client.takeOutput()
            if !output.isEmpty {
                _ = output.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            }
            if outcome.failure != nil { break }
            var pollSet = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
            guard poll(&pollSet, 1, 100) >= 0 else { break }
            guard pollSet[0].revents != 0 else { continue }
            let count = read(fd, &buffer, buffer.count)
            if count <= 0 { break }
            for event in client.receive(Array(buffer[0..<count])) {
                outcome.events.append(event)
                switch event {
                case .applicationData(let data): outcome.received += data
                case .handshakeCompleted:
                    if !requestSent {
                        try client.send(Array(request.utf8))
                        requestSent = true
                    }
                case .closeNotifyReceived: client.close()
                default: break
                }
            }
        }
        let remaining = client.takeOutput()
        if !remaining.isEmpty { _ = remaining.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }
        return outcome
    }
}

/// `openssl s_server` on 127.0.0.1 with a kernel-chosen port.
final class OpenSSLServer {
    let process: PeerProcess
    let port: UInt16

    init(certificate: String, key: String, extra: [String] = []) throws {
        process = try PeerProcess("/usr/bin/openssl", ["s_server", "-accept", "127.0.0.1:0", "-cert", certificate,
                                                       "-key", key, "-www", "-tls1_3"] + extra)
        guard process.waitForOutput(containing: "ACCEPT 127.0.0.1:"),
              let line = process.output.split(separator: "\n").first(where: { $0.hasPrefix("ACCEPT 127.0.0.1:") }),
              let port = UInt16(line.split(separator: ":").last ?? "") else {
            process.stop()
            throw FixtureError("s_server did not start: \(process.output)")
        }
        self.port = port
    }

    func stop() { process.stop() }
}
