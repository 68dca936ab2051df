import Foundation
import Glibc
@testable import Acme

/// A tiny HTTP/1.1 server on 127.0.0.1 that serves published http-01 key
/// authorizations, standing in for capnet's port-80 token responder.
final class HTTP01Server: ACMEChallengeResponder, @unchecked Sendable {
    static let challengePrefix = "/.well-known/acme-challenge/"
    /// Upper bound on a request head; validation requests are far smaller.
    static let maxRequestBytes = 8192
    /// How often the accept loop checks for `stop()`, in milliseconds.
    static let pollMilliseconds: Int32 = 50

    let port: UInt16
    private let listener: Int32
    private let lock = NSLock()
    private var tokens: [String: String] = [:]
    private var stopped = false
    private(set) var servedTokens: [String] = []
    private let finished = DispatchSemaphore(value: 0)

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 16) == 0 else {
            close(listener)
            throw ACMEError.transportFailed(url: "127.0.0.1", detail: "cannot listen: \(String(cString: strerror(errno)))")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(listener, $0, &length) }
        }
        port = UInt16(bigEndian: address.sin_port)
        self.listener = listener
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    func publish(token: String, keyAuthorization: String) async throws {
        lock.withLock { tokens[token] = keyAuthorization }
    }

    func retire(token: String) async {
        lock.withLock { tokens[token] = nil }
    }

    var publishedCount: Int { lock.withLock { tokens.count } }
    var served: [String] { lock.withLock { servedTokens } }

    /// Stops the accept loop and closes the socket.
    func stop() {
        let wasStopped = lock.withLock { () -> Bool in
            defer { stopped = true }
            return stopped
        }
        guard !wasStopped else { return }
        _ = finished.wait(timeout: .now() + 5)
        close(listener)
    }

    private func acceptLoop() {
        defer { finished.signal() }
        while !lock.withLock({ stopped }) {
            var descriptor = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, Self.pollMilliseconds) > 0 else { continue }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { continue }
            serve(connection)
            close(connection)
        }
    }

    private func serve(_ connection: Int32) {
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var request: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1024)
        while request.count < Self.maxRequestBytes {
            let count = read(connection, &buffer, buffer.count)
            guard count > 0 else { break }
            request += buffer[..<count]
            if String(decoding: request, as: UTF8.self).contains("\r\n\r\n") { break }
        }
        let firstLine = String(decoding: request, as: UTF8.self).components(separatedBy: "\r\n").first ?? ""
        let parts = firstLine.split(separator: " ")
        var body = "not found"
        var status = "404 Not Found"
        if parts.count == 3, parts[0] == "GET", parts[1].hasPrefix(Self.challengePrefix) {
            let token = String(parts[1].dropFirst(Self.challengePrefix.count))
            if let keyAuthorization = lock.withLock({ tokens[token] }) {
                body = keyAuthorization
                status = "200 OK"
                lock.withLock { servedTokens.append(token) }
            }
        }
        let response = "HTTP/1.1 \(status)\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
        _ = Array(response.utf8).withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
    }
}
