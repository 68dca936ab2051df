#if canImport(Glibc)
import Glibc
#endif
import CapnetBase

/// Settings that every connection of one worker shares: the TLS client, the
/// target, the request bytes and the timeout.
struct ConnectionPlan {
    let client: any LoadTLSClient
    let address: TargetAddress
    /// The GET request, or nil in the handshake-only modes.
    let request: [UInt8]?
    let timeout: Nanoseconds
    /// Read when a handshake or response completes, after OpenSSL has done
    /// the work, so latencies include the client's own processing.
    let clock: any TimeSource
}

/// One connection from TCP connect to close, driven by readiness events.
///
/// The worker calls `advance` whenever the socket may have become ready. The
/// connection then runs each step until the socket would block, so no
/// readiness edge from the edge-triggered epoll is lost.
final class LoadConnection {
    enum Phase: String {
        case connecting = "TCP connect"
        case handshaking = "TLS handshake"
        case sendingRequest = "sending the request"
        case readingResponse = "reading the response"
        case awaitingTicket = "waiting for a session ticket"
    }

    /// The end of a connection, as the worker records it.
    struct Outcome {
        var handshakeLatency: Nanoseconds?
        var requestLatency: Nanoseconds?
        var sessionWasReused = false
        var session: (any LoadTLSSession)?
        var negotiated: NegotiatedParameters?
        var failure: LoadFailure?
    }

    let socket: Int32
    /// When the connection was meant to start: the scheduled time in open
    /// loop pacing, so latency includes any delay in starting it.
    let startedAt: Instant
    let deadline: Instant
    /// A priming connection stays open until the server sends a session ticket.
    let isPriming: Bool
    /// Whether the outcome carries the negotiated parameters. The worker
    /// requests them only until it has one set, which saves string copies.
    var reportsNegotiated = false
    private(set) var phase = Phase.connecting

    private let plan: ConnectionPlan
    private let resuming: (any LoadTLSSession)?
    private var tls: (any LoadTLSConnection)?
    private var outcome = Outcome()
    private var handshakeDoneAt = Instant.zero
    private var requestBytesSent = 0
    private var response = HTTPResponseReader()

    /// Opens a nonblocking socket and starts connecting. Throws when the
    /// socket cannot be created or the connect fails at once.
    init(plan: ConnectionPlan, resuming: (any LoadTLSSession)?, isPriming: Bool,
         startedAt: Instant) throws(LoadFailure) {
        let socketType = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let descriptor = Glibc.socket(plan.address.family, socketType, 0)
        guard descriptor >= 0 else {
            throw LoadFailure(.other, "socket() failed: \(String(cString: strerror(errno)))")
        }
        // NOTE: the client closes first, so each connection leaves a socket in
        // TIME_WAIT for 60 s. On loopback, Linux reuses those ports when
        // net.ipv4.tcp_tw_reuse is 2 (its default), but toward a namespace
        // address a long run above about 470 connections per second
        // (28,232 ports / 60 s) can run out of ports, reported as "other".
        var enabled: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &enabled, socklen_t(MemoryLayout<Int32>.size))

        let status = plan.address.withSocketAddress { Glibc.connect(descriptor, $0, $1) }
        if status != 0 && errno != EINPROGRESS {
            let code = errno
            close(descriptor)
            throw OpenSSLConnection.failure(errno: code)
        }

        socket = descriptor
        self.plan = plan
        self.resuming = resuming
        self.isPriming = isPriming
        self.startedAt = startedAt
        deadline = startedAt + plan.timeout
    }

    /// Runs as far as the socket allows. Returns the outcome once the
    /// connection has ended, after which the socket is closed.
    func advance(buffer: UnsafeMutableRawBufferPointer) -> Outcome? {
        while true {
            let step: Step
            switch phase {
            case .connecting: step = finishConnect()
            case .handshaking: step = continueHandshake()
            case .sendingRequest: step = sendRequest()
            case .readingResponse: step = readResponse(buffer: buffer)
            case .awaitingTicket: step = awaitTicket(buffer: buffer)
            }
            switch step {
            case .next: continue
            case .wait: return nil
            case .done: return finish(failure: nil)
            case .failed(let failure): return finish(failure: failure)
            }
        }
    }

    /// Ends the connection with a failure found outside it, such as a
    /// failed epoll registration.
    func abort(_ failure: LoadFailure) -> Outcome {
        finish(failure: failure)
    }

    /// Ends the connection because its deadline passed.
    func expire() -> Outcome {
        let seconds = String(format: "%.3g", plan.timeout.seconds)
        return finish(failure: LoadFailure(.timeout, "\(phase.rawValue) not finished within \(seconds) s"))
    }

    private enum Step {
        case next, wait, done
        case failed(LoadFailure)
    }

    private func finishConnect() -> Step {
        var code: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(socket, SOL_SOCKET, SO_ERROR, &code, &length) == 0 else {
            return .failed(OpenSSLConnection.failure(errno: errno))
        }
        if code == EINPROGRESS { return .wait }
        if code != 0 { return .failed(OpenSSLConnection.failure(errno: code)) }

        // A socket that is not yet connected has no peer address.
        var peer = sockaddr_storage()
        var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let connected = withUnsafeMutablePointer(to: &peer) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(socket, $0, &peerLength) }
        }
        if connected != 0 { return errno == ENOTCONN ? .wait : .failed(OpenSSLConnection.failure(errno: errno)) }

        do {
            tls = try plan.client.makeConnection(socket: socket, resuming: resuming)
        } catch {
            return .failed(error)
        }
        phase = .handshaking
        return .next
    }

    private func continueHandshake() -> Step {
        guard let tls else { return .failed(LoadFailure(.other, "no TLS state after connect")) }
        switch tls.handshake() {
        case .wantRead, .wantWrite:
            return .wait
        case .closed:
            return .failed(LoadFailure(.other, "server closed the connection during the handshake"))
        case .failed(let failure):
            return .failed(failure)
        case .complete:
            handshakeDoneAt = plan.clock.now()
            outcome.handshakeLatency = handshakeDoneAt - startedAt
            outcome.sessionWasReused = tls.sessionWasReused
            if plan.request != nil {
                phase = .sendingRequest
                return .next
            }
            return afterExchange(tls)
        }
    }

    private func sendRequest() -> Step {
        guard let tls, let request = plan.request else { return .failed(LoadFailure(.other, "no request to send")) }
        while requestBytesSent < request.count {
            let result = request.withUnsafeBytes { tls.write(UnsafeRawBufferPointer(rebasing: $0[requestBytesSent...])) }
            switch result {
            case .complete(let count): requestBytesSent += count
            case .wantRead, .wantWrite: return .wait
            case .closed: return .failed(LoadFailure(.other, "server closed the connection before the request was sent"))
            case .failed(let failure): return .failed(failure)
            }
        }
        phase = .readingResponse
        return .next
    }

    private func readResponse(buffer: UnsafeMutableRawBufferPointer) -> Step {
        guard let tls else { return .failed(LoadFailure(.other, "no TLS state")) }
        while true {
            switch tls.read(into: buffer) {
            case .complete(let count):
                do {
                    let complete = try response.consume(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
                    if complete {
                        outcome.requestLatency = plan.clock.now() - handshakeDoneAt
                        return afterExchange(tls)
                    }
                } catch {
                    return .failed(error)
                }
            case .wantRead, .wantWrite:
                return .wait
            case .closed:
                do {
                    try response.finishAtEndOfStream()
                } catch {
                    return .failed(error)
                }
                outcome.requestLatency = plan.clock.now() - handshakeDoneAt
                return afterExchange(tls)
            case .failed(let failure):
                return .failed(failure)
            }
        }
    }

    /// Ends the connection, unless it primes resumption and the server's
    /// session ticket has not arrived yet.
    private func afterExchange(_ tls: any LoadTLSConnection) -> Step {
        guard isPriming else { return .done }
        outcome.session = tls.resumableSession()
        if outcome.session != nil { return .done }
        phase = .awaitingTicket
        return .next
    }

    private func awaitTicket(buffer: UnsafeMutableRawBufferPointer) -> Step {
        guard let tls else { return .failed(LoadFailure(.other, "no TLS state")) }
        while true {
            let result = tls.read(into: buffer)
            if let session = tls.resumableSession() {
                outcome.session = session
                return .done
            }
            switch result {
            case .complete: continue
            case .wantRead, .wantWrite: return .wait
            case .closed: return .failed(LoadFailure(.other, "server closed the connection without sending a session ticket"))
            case .failed(let failure): return .failed(failure)
            }
        }
    }

    private func finish(failure: LoadFailure?) -> Outcome {
        var result = outcome
        result.failure = failure
        if failure == nil, let tls {
            if reportsNegotiated { result.negotiated = tls.negotiated }
            tls.shutdown()
        }
        tls = nil
        close(socket)
        return result
    }
}
