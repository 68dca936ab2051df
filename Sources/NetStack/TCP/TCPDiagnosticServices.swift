/// The echo service of RFC 862: every byte received is sent back. Call
/// `poll` on every loop turn; it accepts connections and moves bytes.
public final class TCPEchoService {
    public let listener: TCPListener
    private var sessions: [Session] = []
    public private(set) var bytesEchoed: UInt64 = 0
    /// Sessions served at once; connections past this wait in the accept queue.
    public let maximumSessions: Int

    /// Bytes read from a connection before they are written back; bounds
    /// what one session holds when the peer does not read its echo.
    public static let stagingBufferSize = 16 * 1024

    private struct Session {
        let socket: TCPSocket
        var staged: [UInt8] = []
        var stagedStart = 0
    }

    public init(listener: TCPListener, maximumSessions: Int = 64) {
        self.listener = listener
        self.maximumSessions = maximumSessions
    }

    public var activeSessions: Int { sessions.count }

    public func poll() {
        while sessions.count < maximumSessions, let socket = listener.accept() {
            sessions.append(Session(socket: socket))
        }
        var kept: [Session] = []
        for var session in sessions {
            if serve(&session) { kept.append(session) }
        }
        sessions = kept
    }

    /// Moves bytes for one session; returns false once it is finished.
    private func serve(_ session: inout Session) -> Bool {
        let socket = session.socket
        if socket.readiness.contains(.failed) || socket.state == .closed {
            socket.close()
            return false
        }
        while true {
            // Write back what is staged, then refill the staging buffer.
            if session.stagedStart < session.staged.count {
                let written = session.staged.withUnsafeBytes { bytes in
                    (try? socket.write(UnsafeRawBufferPointer(rebasing: bytes[session.stagedStart...]))) ?? 0
                }
                session.stagedStart += written
                bytesEchoed += UInt64(written)
                if session.stagedStart < session.staged.count { return true }  // back-pressure
            }
            session.staged = [UInt8](repeating: 0, count: Self.stagingBufferSize)
            session.stagedStart = 0
            let read = session.staged.withUnsafeMutableBytes { (try? socket.read(into: $0)) ?? 0 }
            session.staged.removeSubrange(read...)
            if read == 0 { break }
        }
        if socket.isEndOfStream {
            socket.close()  // FIN after the echoed bytes
            return false
        }
        return true
    }
}

/// The discard service of RFC 863: every byte received is thrown away.
public final class TCPDiscardService {
    public let listener: TCPListener
    private var sockets: [TCPSocket] = []
    public private(set) var bytesDiscarded: UInt64 = 0
    public let maximumSessions: Int

    public init(listener: TCPListener, maximumSessions: Int = 64) {
        self.listener = listener
        self.maximumSessions = maximumSessions
    }

    public var activeSessions: Int { sockets.count }

    public func poll() {
        while sockets.count < maximumSessions, let socket = listener.accept() { sockets.append(socket) }
        sockets = sockets.filter { socket in
            // Consume in place: no copy out of the receive buffer.
            let consumed = (try? socket.withReadableBytes { first, second in first.count + second.count }) ?? 0
            bytesDiscarded += UInt64(consumed)
            if socket.isEndOfStream || socket.state == .closed || socket.readiness.contains(.failed) {
                socket.close()
                return false
            }
            return true
        }
    }
}
