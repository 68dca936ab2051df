import CapnetBase
import NetStack
import TLSEngine

/// One HTTPS request and its response over a TCP socket of the userspace
/// stack: connect, TLS 1.3 handshake with the CA's certificate verified,
/// the request, the response read to its end, then close_notify and FIN.
/// It runs on the stack's loop thread, and each `poll` moves it one step.
final class StackHTTPSExchange {
    enum Phase: Equatable {
        /// Waiting for the host name's address.
        case resolving
        /// SYN sent, waiting for the handshake.
        case connecting
        /// TLS handshake and HTTP exchange in progress.
        case exchanging
        case finished
    }

    let request: ACMEHTTPRequest
    let target: HTTPSRequestTarget
    let deadline: Instant
    private(set) var phase = Phase.resolving
    private let completion: @Sendable (Result<ACMEHTTPResponse, ACMEError>) -> Void
    private let tlsConfiguration: TLSClientConfiguration
    private let userAgent: String
    /// The source of the trusted roots, named in error messages.
    private let trustDescription: String
    private var handshakeCompleted = false
    private var socket: TCPSocket?
    private var tls: TLSClientConnection?
    private var reader: HTTPResponseReader
    private var requestSent = false
    private var pendingOutput: [UInt8] = []
    private static let log = Logger(.acme)

    init(request: ACMEHTTPRequest, target: HTTPSRequestTarget, tlsConfiguration: TLSClientConfiguration,
         trustDescription: String, userAgent: String, deadline: Instant,
         completion: @escaping @Sendable (Result<ACMEHTTPResponse, ACMEError>) -> Void) {
        self.request = request
        self.trustDescription = trustDescription
        self.target = target
        self.tlsConfiguration = tlsConfiguration
        self.userAgent = userAgent
        self.deadline = deadline
        self.completion = completion
        reader = HTTPResponseReader(isHeadRequest: request.method == "HEAD")
    }

    /// Opens the connection to `address` (the target's resolved host).
    func connect(to address: IPv4Address, tcp: TCPLayer, now: Instant) {
        guard phase == .resolving else { return }
        do {
            socket = try tcp.connect(to: IPv4Endpoint(address: address, port: target.port), now: now)
            phase = .connecting
            Self.log.debug("connecting", "url=\(request.url) remote=\(address):\(target.port)")
        } catch {
            fail("cannot open a TCP connection to \(address):\(target.port): \(error)")
        }
    }

    /// Ends the exchange with `detail` as the reason, if it is still running.
    func fail(_ detail: String) {
        finish(with: .transportFailed(url: request.url, detail: detail))
    }

    private func rejectCertificate(_ detail: String) {
        finish(with: .serverCertificateRejected(url: request.url, detail: detail))
    }

    private func finish(with error: ACMEError) {
        guard phase != .finished else { return }
        phase = .finished
        socket?.abort()
        completion(.failure(error))
    }

    /// Alerts our TLS client raises when it rejects the server's certificate.
    static let certificateAlerts: Set<TLSError.Kind> = [.badCertificate, .unknownCA, .certificateExpired]

    /// Runs one step: the deadline, the TCP handshake, then bytes both ways.
    func poll(now: Instant, readBuffer: UnsafeMutableRawBufferPointer) {
        guard phase != .finished else { return }
        if now >= deadline {
            fail(timeoutDetail)
            return
        }
        guard let socket, phase != .resolving else { return }
        let readiness = socket.readiness
        if readiness.contains(.failed) {
            fail("TCP connection to \(socket.remote) failed: \(socket.error.map { "\($0)" } ?? "reset")")
            return
        }
        if phase == .connecting {
            guard readiness.contains(.connected) else {
                if readiness.contains(.closed) { fail("TCP connection to \(socket.remote) was refused") }
                return
            }
            startTLS()
            guard phase == .exchanging else { return }
        }
        readInput(socket: socket, readBuffer: readBuffer)
        flush(socket: socket)
    }

    private var timeoutDetail: String {
        let limit = "\(StackHTTPSClient.requestTimeout.seconds) s"
        switch phase {
        case .resolving:
            return "timed out after \(limit) resolving \(target.host)"
        case .connecting:
            return "timed out after \(limit) connecting to \(target.hostField): no answer to ARP or SYN "
                + "(check the address, --gateway and that the server listens)"
        default:
            return "timed out after \(limit) waiting for the response from \(target.hostField)"
        }
    }

    private func startTLS() {
        do {
            let connection = try TLSClientConnection(configuration: tlsConfiguration, serverName: target.host)
            tls = connection
            append(connection.takeOutput())
            phase = .exchanging
        } catch {
            fail("cannot start TLS for \(target.host): \(error)")
        }
    }

    private func readInput(socket: TCPSocket, readBuffer: UnsafeMutableRawBufferPointer) {
        while phase == .exchanging {
            let count: Int
            do {
                count = try socket.read(into: readBuffer)
            } catch {
                fail("read from \(socket.remote) failed: \(error)")
                return
            }
            guard count > 0 else { break }
            deliver(Array(UnsafeRawBufferPointer(rebasing: readBuffer[..<count])))
        }
        if phase == .exchanging && socket.isEndOfStream {
            endOfStream()
        }
    }

    private func deliver(_ bytes: [UInt8]) {
        guard let tls else { return }
        for event in tls.receive(bytes) {
            guard phase == .exchanging else { return }
            switch event {
            case .handshakeCompleted:
                handshakeCompleted = true
                do {
                    try tls.send(target.encode(request, userAgent: userAgent))
                    requestSent = true
                } catch {
                    fail("TLS send to \(target.host) failed: \(error)")
                }
            case .applicationData(let data):
                do {
                    if try reader.receive(data) { finish() }
                } catch {
                    fail("invalid HTTP response from \(target.hostField): \(error)")
                }
            case .keyUpdateReceived:
                break
            case .closeNotifyReceived:
                endOfStream()
            case .failed(let error):
                append(tls.takeOutput())
                if let socket { flush(socket: socket) }
                if Self.certificateAlerts.contains(error.kind) && !handshakeCompleted {
                    rejectCertificate("TLS with \(target.hostField) failed: \(error). Check that \(trustDescription) "
                        + "contains the root that the server's certificate chains to")
                } else {
                    fail("TLS with \(target.hostField) failed: \(error)")
                }
            }
        }
        if phase == .exchanging { append(tls.takeOutput()) }
    }

    private func endOfStream() {
        guard requestSent else {
            fail("\(target.hostField) closed the connection during the TLS handshake")
            return
        }
        do {
            try reader.receiveEndOfStream()
            finish()
        } catch {
            fail("\(error)")
        }
    }

    /// Hands the response over, then sends close_notify and closes the socket
    /// gracefully. TCP delivers what is still buffered before its FIN.
    private func finish() {
        guard phase == .exchanging else { return }
        phase = .finished
        if let tls {
            tls.close()
            append(tls.takeOutput())
        }
        if let socket {
            flush(socket: socket)
            socket.close()
        }
        completion(.success(reader.response))
    }

    private func append(_ bytes: [UInt8]) {
        pendingOutput.append(contentsOf: bytes)
    }

    private func flush(socket: TCPSocket) {
        while !pendingOutput.isEmpty {
            let written: Int
            do {
                written = try pendingOutput.withUnsafeBytes { try socket.write($0) }
            } catch {
                fail("write to \(socket.remote) failed: \(error)")
                return
            }
            guard written > 0 else { return }
            pendingOutput.removeFirst(written)
        }
    }
}
