#if canImport(Glibc)
import Glibc
#endif
import CapnetBase

/// Serves TLS over the kernel's TCP sockets: a poll(2) loop on one thread
/// that moves bytes between sockets and `TLSServerConnection`s. It is the
/// adapter for running the engine without capnet's own stack, for interop
/// tests and `capnet serve --kernel-listen`.
public final class KernelTLSServer: @unchecked Sendable {
    /// Returns the response bytes for one request head on an established connection.
    public typealias RequestHandler = (_ request: [UInt8], _ parameters: NegotiatedParameters) -> [UInt8]

    /// The maximum number of connections served at once; further ones are accepted and closed at once.
    public static let maxConnections = 256
    /// The maximum number of bytes read from a socket per readiness event.
    static let readChunkLength = 1 << 14
    /// The longest HTTP request head kept before the connection is closed.
    static let maxRequestHeadLength = 1 << 14
    /// How long one poll(2) call waits before checking for a stop request, in milliseconds.
    static let pollIntervalMilliseconds: Int32 = 200

    /// Connection deadlines: a connection is closed when its handshake takes
    /// longer than `handshake`, or when it stays silent for `idle` afterwards.
    public struct Timeouts: Sendable {
        public var handshake: Nanoseconds
        public var idle: Nanoseconds

        public init(handshake: Nanoseconds = .seconds(10), idle: Nanoseconds = .seconds(120)) {
            self.handshake = handshake
            self.idle = idle
        }
    }

    static let log = Logger(.tls)

    private let configuration: TLSServerConfiguration
    private let listener: Int32
    private let stopPipe: (read: Int32, write: Int32)
    private let handler: RequestHandler
    /// One read buffer for every socket: the loop reads one socket at a time.
    private var readBuffer = [UInt8](repeating: 0, count: KernelTLSServer.readChunkLength)
    private let timeouts: Timeouts
    private let clock: any TimeSource
    /// The bound port, which the kernel picks when 0 was requested.
    public let port: UInt16

    private final class Client {
        let fd: Int32
        let tls: TLSServerConnection
        var pending: [UInt8] = []
        var request: [UInt8] = []
        var closeAfterFlush = false
        /// When the connection was accepted, or last received bytes after its handshake.
        var lastActivity: Instant

        init(fd: Int32, tls: TLSServerConnection, now: Instant) {
            self.fd = fd
            self.tls = tls
            lastActivity = now
        }
    }

    /// Binds and listens on `address:port` (IPv4 dotted quad).
    public init(configuration: TLSServerConfiguration, address: String, port: UInt16,
                timeouts: Timeouts = Timeouts(), clock: any TimeSource = MonotonicTimeSource(),
                handler: @escaping RequestHandler = KernelTLSServer.minimalHTTPResponse) throws {
        self.configuration = configuration
        self.handler = handler
        self.timeouts = timeouts
        self.clock = clock
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw KernelSocketError("socket", errno) }
        var reuse: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = port.bigEndian
        guard inet_pton(AF_INET, address, &socketAddress.sin_addr) == 1 else {
            Glibc.close(fd)
            throw KernelSocketError("invalid IPv4 address \(address)", EINVAL)
        }
        let bound = withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 128) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw KernelSocketError("bind/listen on \(address):\(port)", code)
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.port = UInt16(bigEndian: actual.sin_port)
        listener = fd
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            Glibc.close(fd)
            throw KernelSocketError("pipe2", errno)
        }
        for pipeEnd in fds { Self.makeNonBlocking(pipeEnd) }
        stopPipe = (fds[0], fds[1])
    }

    deinit {
        Glibc.close(listener)
        Glibc.close(stopPipe.read)
        Glibc.close(stopPipe.write)
    }

    /// Asks `run` to return; safe from any thread or a signal handler.
    public func stop() {
        var byte: UInt8 = 1
        _ = Glibc.write(stopPipe.write, &byte, 1)
    }

    /// Serves until `stop` is called. Every connection still open is closed on return.
    public func run() {
        var clients: [Int32: Client] = [:]
        defer {
            for client in clients.values { Glibc.close(client.fd) }
        }
        Self.log.info("serving TLS on a kernel socket", "port=\(port)")
        while true {
            var pollSet = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: stopPipe.read, events: Int16(POLLIN), revents: 0)]
            for client in clients.values {
                let events = Int16(POLLIN) | (client.pending.isEmpty ? 0 : Int16(POLLOUT))
                pollSet.append(pollfd(fd: client.fd, events: events, revents: 0))
            }
            let ready = poll(&pollSet, nfds_t(pollSet.count), Self.pollIntervalMilliseconds)
            if ready < 0 && errno != EINTR { Self.log.error("poll failed", "errno=\(errno)"); return }
            if pollSet[1].revents != 0 { return }
            if pollSet[0].revents & Int16(POLLIN) != 0 { acceptAll(&clients) }

            for entry in pollSet.dropFirst(2) where entry.revents != 0 {
                guard let client = clients[entry.fd] else { continue }
                if entry.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                    readFrom(client)
                }
                flush(client)
                if client.closeAfterFlush && client.pending.isEmpty {
                    Glibc.close(client.fd)
                    clients[client.fd] = nil
                }
            }
            closeExpired(&clients)
        }
    }

    private func acceptAll(_ clients: inout [Int32: Client]) {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 { return }
            Self.makeNonBlocking(fd)
            guard clients.count < Self.maxConnections else {
                Self.log.warning("connection rejected: at the connection limit", "limit=\(Self.maxConnections)")
                Glibc.close(fd)
                continue
            }
            var noDelay: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
            clients[fd] = Client(fd: fd, tls: TLSServerConnection(configuration: configuration), now: clock.now())
        }
    }

    /// Closes connections past their handshake or idle deadline.
    private func closeExpired(_ clients: inout [Int32: Client]) {
        let now = clock.now()
        for client in clients.values {
            let limit = client.tls.isEstablished ? timeouts.idle : timeouts.handshake
            guard now - client.lastActivity >= limit else { continue }
            Self.log.info("connection closed: \(client.tls.isEstablished ? "idle" : "handshake") timeout",
                          "fd=\(client.fd) limit=\(limit)")
            Glibc.close(client.fd)
            clients[client.fd] = nil
        }
    }

    private static func makeNonBlocking(_ fd: Int32) {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    }

    private func readFrom(_ client: Client) {
        let count = Glibc.read(client.fd, &readBuffer, readBuffer.count)
        if count < 0 && (errno == EAGAIN || errno == EINTR) { return }
        guard count > 0 else {
            // The peer closed TCP (or reset it): nothing more can be delivered.
            client.pending.removeAll()
            client.closeAfterFlush = true
            return
        }
        // The handshake deadline counts from the accept; only an established connection renews it.
        if client.tls.isEstablished { client.lastActivity = clock.now() }
        let events = readBuffer.withUnsafeBytes { client.tls.receive(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        for event in events {
            switch event {
            case .applicationData(let bytes):
                client.request.append(contentsOf: bytes)
                answerRequests(client)
            case .closeNotifyReceived:
                client.tls.close()
                client.closeAfterFlush = true
            case .failed:
                client.closeAfterFlush = true
            case .handshakeCompleted, .keyUpdateReceived:
                break
            }
        }
        client.pending.append(contentsOf: client.tls.takeOutput())
    }

    /// Sends a response for every complete request head buffered (bodies are not read).
    private func answerRequests(_ client: Client) {
        let terminator: [UInt8] = [13, 10, 13, 10]
        while let end = client.request.firstRange(of: terminator) {
            let head = Array(client.request[..<end.upperBound])
            client.request.removeSubrange(..<end.upperBound)
            guard let parameters = client.tls.negotiated else { return }
            if head.starts(with: Array("GET /keyupdate ".utf8)) {
                try? client.tls.updateKeys(requestPeerUpdate: true)
            }
            try? client.tls.send(handler(head, parameters))
            if String(decoding: head, as: UTF8.self).lowercased().contains("\r\nconnection: close\r\n") {
                client.tls.close()
                client.closeAfterFlush = true
                return
            }
        }
        if client.request.count > Self.maxRequestHeadLength {
            client.tls.close()
            client.closeAfterFlush = true
        }
    }

    private func flush(_ client: Client) {
        while !client.pending.isEmpty {
            // MSG_NOSIGNAL: a peer that went away gives EPIPE, not a process-killing SIGPIPE.
            let written = client.pending.withUnsafeBytes {
                Glibc.send(client.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if written < 0 {
                if errno == EAGAIN || errno == EINTR { return }
                client.pending.removeAll()
                client.closeAfterFlush = true
                return
            }
            client.pending.removeSubrange(0..<written)
        }
    }

    /// Builds a fixed HTTP/1.1 200 response whose body names the negotiated parameters.
    public static func minimalHTTPResponse(_ request: [UInt8], _ parameters: NegotiatedParameters) -> [UInt8] {
        let body = """
            hello from capnet
            suite=\(parameters.cipherSuite) group=\(parameters.group.map { "\($0)" } ?? "none") \
            signature=\(parameters.signatureScheme.map { "\($0)" } ?? "none") \
            sni=\(parameters.serverName ?? "none") alpn=\(parameters.applicationProtocol ?? "none") \
            hrr=\(parameters.usedHelloRetryRequest) resumed=\(parameters.resumed)

            """
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
        return Array((head + body).utf8)
    }
}

/// A failed socket call, with errno.
public struct KernelSocketError: Error, CustomStringConvertible {
    public let operation: String
    public let code: Int32

    public init(_ operation: String, _ code: Int32) {
        self.operation = operation
        self.code = code
    }

    public var description: String { "\(operation) failed: \(String(cString: strerror(code))) (errno \(code))" }
}
