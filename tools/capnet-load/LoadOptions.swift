import CapnetBase

/// What a run does: the parsed command line with every default filled in.
struct LoadOptions: Equatable, Sendable {
    /// The kind of work each connection does.
    enum Mode: String, CaseIterable, Sendable {
        /// A full TLS 1.3 handshake, then close.
        case full
        /// One full handshake to obtain a session ticket, then handshakes
        /// that resume that session (RFC 8446 section 2.2), then close.
        case resumed
        /// A full handshake and one HTTP/1.1 GET, reading the whole response.
        case get
        /// Resumed handshakes, each followed by one HTTP/1.1 GET.
        case getResumed = "get-resumed"

        var resumesSessions: Bool { self == .resumed || self == .getResumed }
        var sendsRequest: Bool { self == .get || self == .getResumed }
    }

    /// How new connections are started.
    enum Pacing: Equatable, Sendable {
        /// Closed loop: keep this many connections in flight.
        case concurrency(Int)
        /// Open loop: start this many connections per second, whatever the
        /// server's speed, with at most `maxInFlight` open at once.
        case rate(perSecond: Double, maxInFlight: Int)
    }

    /// Key exchange groups the client offers (`--group`).
    enum Group: String, CaseIterable, Sendable {
        case x25519
        case p256 = "P-256"
        case p384 = "P-384"

        /// The name OpenSSL's group list takes.
        var openSSLName: String {
            switch self {
            case .x25519: "X25519"
            case .p256: "P-256"
            case .p384: "P-384"
            }
        }
    }

    /// How the server certificate is checked.
    enum Verification: Equatable, Sendable {
        /// Against the system trust store.
        case systemRoots
        /// Against the certificates in a PEM file (`--cacert`).
        case caFile(String)
        /// Not at all (`--insecure`).
        case none
    }

    var target: TargetURL
    var mode: Mode = .full
    var pacing: Pacing = .concurrency(Defaults.concurrency)
    var threads: Int = Defaults.threads
    /// Time limit of the run: no connection starts after it, and the run ends
    /// at the latest one connection timeout later.
    var duration: Nanoseconds = Defaults.duration
    /// Connections to start in total, across all threads; nil means no count
    /// limit, only the duration.
    var count: Int? = nil
    /// Time a connection may take from connect to its last byte.
    var connectionTimeout: Nanoseconds = Defaults.connectionTimeout
    var group: Group = .x25519
    /// TLS 1.3 cipher suites in OpenSSL's colon-separated form; nil keeps
    /// OpenSSL's default list.
    var cipherSuites: String? = nil
    /// ALPN protocol names (RFC 7301) the client offers; empty offers none.
    var alpn: [String] = Defaults.alpn
    /// Server name indication; nil sends none. Defaults to the URL's host
    /// unless that host is an IP literal (RFC 6066 section 3 forbids those).
    var serverName: String?
    var verification: Verification = .systemRoots
    var allowAnyTarget = false
    var json = false
    var showHelp = false

    init(target: TargetURL) {
        self.target = target
        serverName = target.hostIsIPLiteral ? nil : target.host
    }
}

/// Default values and accepted ranges of the options, shown in `--help`.
enum Defaults {
    static let concurrency = 16
    static let threads = 1
    static let duration = Nanoseconds.seconds(10)
    /// Time limit when `--count` is given without `--duration`, so that a
    /// count that is never reached still ends the run.
    static let durationWithCount = Nanoseconds.seconds(60)
    static let connectionTimeout = Nanoseconds.seconds(5)
    static let maxInFlight = 1_000
    static let alpn = ["http/1.1"]

    static let concurrencyRange = 1...10_000
    static let threadsRange = 1...64
    static let maxInFlightRange = 1...50_000
    static let countRange = 1...100_000_000
    /// Seconds; one hour bounds every run.
    static let durationRange = 0.001...3_600.0
    static let timeoutRange = 0.001...600.0
    static let rateRange = 0.1...1_000_000.0
}
