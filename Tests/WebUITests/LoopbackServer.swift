// A tiny HTTP server on kernel sockets for tests with real clients: it
// listens on 127.0.0.1 with an ephemeral port and drives one HTTPConnection
// per accepted socket, one thread each, with poll(2) timeouts from the
// connection's next deadline.
import CapnetBase
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif
@testable import WebUI

enum LoopbackError: Error, CustomStringConvertible {
    case systemCall(String, Int32)

    var description: String {
        switch self {
        case .systemCall(let name, let code): "\(name) failed: \(String(cString: strerror(code)))"
        }
    }
}

final class LoopbackServer: @unchecked Sendable {
    let port: UInt16
    private let listenFD: Int32
    private let configuration: HTTPConnection.Configuration
    private let handler: @Sendable (HTTPRequest) -> HTTPResponse
    private let group = DispatchGroup()
    private let counters = Mutex((accepted: 0, requests: 0))
    private let clock = MonotonicTimeSource()

    /// Sockets are read in pieces of this size.
    private static let readSize = 16 * 1024
    /// Largest poll(2) wait when the connection has no deadline, so that a
    /// stuck test still ends.
    private static let maxPollMilliseconds: Int32 = 10_000

    /// Connections accepted so far.
    var acceptedConnections: Int { counters.withLock { $0.accepted } }
    /// Requests handed to the handler so far.
    var handledRequests: Int { counters.withLock { $0.requests } }

    init(configuration: HTTPConnection.Configuration,
         handler: @escaping @Sendable (HTTPRequest) -> HTTPResponse) throws
    {
        self.configuration = configuration
        self.handler = handler
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LoopbackError.systemCall("socket", errno) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            let code = errno
            close(fd)
            throw LoopbackError.systemCall("bind/listen", code)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listenFD = fd
        port = UInt16(bigEndian: address.sin_port)
        group.enter()
        Thread { [self] in
            acceptLoop()
            group.leave()
        }.start()
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Stops accepting and waits (bounded) for connection threads to end.
    func stop() {
        shutdown(listenFD, Int32(SHUT_RDWR))
        _ = group.wait(timeout: .now() + 15)
        close(listenFD)
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                return  // shutdown(2) on the listening socket ends the loop.
            }
            counters.withLock { $0.accepted += 1 }
            group.enter()
            Thread { [self] in
                serve(fd)
                close(fd)
                group.leave()
            }.start()
        }
    }

    private func serve(_ fd: Int32) {
        var connection = HTTPConnection(configuration: configuration, now: clock.now())
        var buffer = [UInt8](repeating: 0, count: Self.readSize)
        while !connection.isClosed {
            var timeout = Self.maxPollMilliseconds
            if let deadline = connection.nextDeadline {
                let remaining = (deadline - clock.now()).value / 1_000_000
                timeout = Int32(max(0, min(Int64(Self.maxPollMilliseconds), remaining + 1)))
            }
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, timeout)
            if ready < 0 && errno == EINTR { continue }
            if ready > 0 {
                let count = recv(fd, &buffer, buffer.count, 0)
                if count > 0 {
                    connection.receive(buffer[0..<count], now: clock.now())
                } else {
                    connection.receiveEndOfInput(now: clock.now())
                    if count < 0 { break }
                }
            } else if ready == 0 && connection.nextDeadline == nil {
                break  // No deadline and no input for maxPollMilliseconds: give up.
            }
            connection.handleTimeouts(now: clock.now())
            while let incoming = connection.nextRequest() {
                counters.withLock { $0.requests += 1 }
                connection.respond(to: incoming.id, with: handler(incoming.request), now: clock.now())
            }
            if !sendAll(fd, connection.takeOutput()) { break }
        }
    }

    private func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += sent
        }
        return true
    }
}

/// Connects to 127.0.0.1:`port`, sends `request` in one write, and reads
/// until the server closes the connection (or `timeoutSeconds` pass).
func rawExchange(port: UInt16, request: [UInt8], timeoutSeconds: Int32 = 10) throws -> [UInt8] {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw LoopbackError.systemCall("socket", errno) }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard connected == 0 else { throw LoopbackError.systemCall("connect", errno) }
    let sent = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    guard sent == request.count else { throw LoopbackError.systemCall("send", errno) }

    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, timeoutSeconds * 1000) > 0 else { break }
        let count = recv(fd, &buffer, buffer.count, 0)
        if count <= 0 { break }
        received += buffer[0..<count]
    }
    return received
}
