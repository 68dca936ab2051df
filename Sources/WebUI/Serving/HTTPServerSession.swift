import CapnetBase
import NetStack
import TLSEngine

/// One HTTP connection on a TCP socket, with or without TLS in between.
///
/// Each `poll` moves bytes one step in each direction: TCP to TLS to HTTP,
/// then responses from HTTP to TLS to TCP. Output waits in `pendingOutput`
/// when the socket's send buffer is full, and the session stops reading
/// while more than `maximumPendingOutput` bytes wait (back-pressure).
final class HTTPServerSession {
    enum Phase: Equatable {
        case open
        /// The response stream is over; flushing it, then close_notify.
        case closing
        /// Everything is sent and the socket is closed.
        case finished
    }

    let socket: TCPSocket
    let tls: TLSServerConnection?
    let acceptedAt: Instant
    private(set) var http: HTTPConnection
    private(set) var phase = Phase.open
    private(set) var negotiated: NegotiatedParameters?
    private(set) var failure: String?
    private(set) var handshakeTimedOut = false

    private var pendingOutput: [UInt8] = []
    private var pendingOffset = 0
    private let limits: HTTPServer.Limits
    private static let log = Logger(.http)

    init(socket: TCPSocket, tls: TLSServerConnection?, http: HTTPConnection, limits: HTTPServer.Limits,
         now: Instant) {
        self.socket = socket
        self.tls = tls
        self.http = http
        self.limits = limits
        acceptedAt = now
    }

    var pendingByteCount: Int { pendingOutput.count - pendingOffset }

    /// The earliest time this session needs a poll without new input.
    var nextDeadline: Instant? {
        var deadline = http.nextDeadline
        if let tls, !tls.isEstablished {
            let handshakeDeadline = acceptedAt + limits.handshakeTimeout
            deadline = deadline.map { min($0, handshakeDeadline) } ?? handshakeDeadline
        }
        return deadline
    }

    /// Runs one step. `handler` answers complete requests.
    func poll(now: Instant, readBuffer: UnsafeMutableRawBufferPointer,
              handler: (HTTPRequest) -> HTTPResponse) {
        guard phase != .finished else { return }

        if socket.readiness.contains(.failed) || socket.state == .closed {
            finish(reason: "connection reset by peer")
            return
        }

        if let tls, !tls.isEstablished, now - acceptedAt >= limits.handshakeTimeout {
            handshakeTimedOut = true
            Self.log.info("closing connection: TLS handshake did not finish in \(limits.handshakeTimeout)",
                          "remote=\(socket.remote)")
            socket.abort()
            phase = .finished
            return
        }

        readInput(now: now, readBuffer: readBuffer)
        http.handleTimeouts(now: now)
        http.respondToRequests(now: now, with: handler)
        moveHTTPOutput()

        if phase == .open && (http.isClosed || tls?.hasFailed == true) {
            phase = .closing
        }
        if phase == .closing && pendingByteCount == 0 {
            // RFC 8446 §6.1: close_notify before closing the write side.
            if let tls, !tls.hasFailed {
                tls.close()
                append(tls.takeOutput())
            }
        }
        flush()
        if phase == .closing && pendingByteCount == 0 {
            socket.close()
            phase = .finished
        }
    }

    private func readInput(now: Instant, readBuffer: UnsafeMutableRawBufferPointer) {
        var budget = limits.maximumReadPerPoll
        while budget > 0 && phase == .open && http.wantsInput && pendingByteCount < limits.maximumPendingOutput {
            let count: Int
            do {
                count = try socket.read(into: UnsafeMutableRawBufferPointer(rebasing: readBuffer[..<min(readBuffer.count, budget)]))
            } catch {
                finish(reason: "read failed: \(error)")
                return
            }
            guard count > 0 else { break }
            budget -= count
            deliver(UnsafeRawBufferPointer(rebasing: readBuffer[..<count]), now: now)
        }
        if socket.isEndOfStream && socket.readableBytes == 0 && phase == .open {
            http.receiveEndOfInput(now: now)
        }
    }

    private func deliver(_ bytes: UnsafeRawBufferPointer, now: Instant) {
        guard let tls else {
            http.receive(bytes, now: now)
            return
        }
        for event in tls.receive(bytes) {
            switch event {
            case .handshakeCompleted(let parameters):
                negotiated = parameters
            case .applicationData(let data):
                http.receive(data, now: now)
            case .keyUpdateReceived:
                break
            case .closeNotifyReceived:
                http.receiveEndOfInput(now: now)
            case .failed(let error):
                failure = "\(error)"
                Self.log.info("TLS connection failed: \(error)", "remote=\(socket.remote)")
            }
        }
        append(tls.takeOutput())
    }

    private func moveHTTPOutput() {
        guard http.hasOutput else { return }
        let output = http.takeOutput()
        guard let tls else {
            append(output)
            return
        }
        guard !tls.hasFailed else { return }
        do {
            try tls.send(output)
        } catch {
            failure = "\(error)"
            Self.log.info("TLS send failed: \(error)", "remote=\(socket.remote)")
        }
        append(tls.takeOutput())
    }

    private func append(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        if pendingOffset > 0 && pendingOffset == pendingOutput.count {
            pendingOutput.removeAll(keepingCapacity: true)
            pendingOffset = 0
        }
        pendingOutput.append(contentsOf: bytes)
    }

    private func flush() {
        while pendingByteCount > 0 {
            let written: Int
            do {
                written = try pendingOutput.withUnsafeBytes { bytes in
                    try socket.write(UnsafeRawBufferPointer(rebasing: bytes[pendingOffset...]))
                }
            } catch {
                finish(reason: "write failed: \(error)")
                return
            }
            guard written > 0 else { return }
            pendingOffset += written
        }
        pendingOutput.removeAll(keepingCapacity: true)
        pendingOffset = 0
    }

    private func finish(reason: String) {
        Self.log.debug("connection ended: \(reason)", "remote=\(socket.remote)")
        socket.abort()
        phase = .finished
    }
}
