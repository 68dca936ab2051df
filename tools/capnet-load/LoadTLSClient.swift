/// The client side of TLS as capnet-load drives it: nonblocking steps over a
/// connected socket, so one thread can drive many connections.
///
/// NOTE: capnet's own TLS client plugs in here. It needs a type conforming to
/// `LoadTLSClient` (context, built once per run) whose connections conform to
/// `LoadTLSConnection`, and a `--client` option in `LoadOptions+Parsing.swift`
/// to choose it. `OpenSSLClient` is the only implementation today, so the
/// client is never the code under test on the server side.
protocol LoadTLSClient: AnyObject {
    /// Creates the TLS state for one TCP connection that has finished
    /// connecting. When `session` is given, the handshake offers to resume it.
    func makeConnection(socket: Int32, resuming session: (any LoadTLSSession)?) throws(LoadFailure)
        -> any LoadTLSConnection
}

/// A session that a later handshake can resume (RFC 8446 section 2.2).
protocol LoadTLSSession: AnyObject {}

/// One client TLS connection. Every call is nonblocking and is retried after
/// the socket becomes readable or writable, as the result requests.
protocol LoadTLSConnection: AnyObject {
    /// Runs the handshake as far as the socket allows.
    func handshake() -> TLSStepResult
    /// Writes application data; `.complete(n)` reports the bytes taken.
    func write(_ bytes: UnsafeRawBufferPointer) -> TLSStepResult
    /// Reads application data; `.complete(n)` reports the bytes stored and
    /// `.closed` the end of the stream. Post-handshake messages such as
    /// NewSessionTicket are processed here.
    func read(into buffer: UnsafeMutableRawBufferPointer) -> TLSStepResult
    /// Whether the completed handshake resumed a session.
    var sessionWasReused: Bool { get }
    /// The session to resume later, once the server has sent a ticket.
    func resumableSession() -> (any LoadTLSSession)?
    /// What the completed handshake agreed on.
    var negotiated: NegotiatedParameters { get }
    /// Sends close_notify without waiting for the server's.
    func shutdown()
}

/// The result of one nonblocking TLS call.
enum TLSStepResult: Equatable {
    /// The call finished; for reads and writes, the number of bytes.
    case complete(Int)
    case wantRead
    case wantWrite
    /// The server ended the stream (close_notify or TCP close).
    case closed
    case failed(LoadFailure)
}

/// Protocol version, cipher suite, key exchange group and ALPN protocol of a
/// handshake, as reported in the summary.
struct NegotiatedParameters: Equatable, Sendable, Codable {
    var version: String
    var cipherSuite: String
    var group: String
    var alpn: String?
}
