import CapnetBase
import NetStack
import Synchronization
import TLSEngine

/// Looks up a host name's IPv4 addresses for the stack's outgoing
/// connections. It is called on the loop thread and calls `completion` there.
public protocol StackHostResolver: AnyObject {
    func resolve(host: String, now: Instant,
                 completion: @escaping (Result<[IPv4Address], any Error>) -> Void)
}

/// The ACME client's HTTPS over the userspace stack: requests submitted from
/// any thread are queued, and the interface's loop runs each one as a
/// `StackHTTPSExchange` on its own connection. The loop picks a queued
/// request up on its next turn, within `Interface.maximumRunWait`.
///
/// Bounds: `maximumQueued` requests wait, `maximumActive` run at once, and
/// each must finish within `requestTimeout`.
public final class StackHTTPSClient: InterfaceService, ACMETransport, @unchecked Sendable {
    public static let maximumQueued = 16
    public static let maximumActive = 4
    public static let requestTimeout = Nanoseconds.seconds(30)
    /// Sent as User-Agent (RFC 8555 §6.1).
    public let userAgent: String

    private struct Submission {
        var request: ACMEHTTPRequest
        var target: HTTPSRequestTarget
        var completion: @Sendable (Result<ACMEHTTPResponse, ACMEError>) -> Void
    }

    private struct Inbox {
        var waiting: [Submission] = []
        var isClosed = false
    }

    private let tcp: TCPLayer
    private let tlsConfiguration: TLSClientConfiguration
    private let trustDescription: String
    private let resolver: StackHostResolver?
    private let inbox = Mutex(Inbox())
    private let now: @Sendable () -> Instant
    // Loop-thread state.
    private var active: [StackHTTPSExchange] = []
    private var readBuffer = [UInt8](repeating: 0, count: 16 * 1024)
    private static let log = Logger(.acme)

    /// - Parameters:
    ///   - tcp: the stack's TCP layer, which mints the client sockets.
    ///   - tlsConfiguration: trusts the CA's HTTPS roots (`--acme-ca-bundle`
    ///     or the system bundle).
    ///   - trustDescription: names the roots in error messages, such as
    ///     "--acme-ca-bundle ca.pem".
    ///   - resolver: resolves host names; without one, only IPv4 literals work.
    ///   - now: the loop's clock, for request deadlines.
    public init(tcp: TCPLayer, tlsConfiguration: TLSClientConfiguration, trustDescription: String,
                resolver: StackHostResolver?, userAgent: String, now: @escaping @Sendable () -> Instant) {
        self.tcp = tcp
        self.tlsConfiguration = tlsConfiguration
        self.trustDescription = trustDescription
        self.resolver = resolver
        self.userAgent = userAgent
        self.now = now
    }

    /// Queues `request`. `completion` runs on the loop thread once the
    /// response is complete or the exchange failed.
    public func submit(_ request: ACMEHTTPRequest,
                       completion: @escaping @Sendable (Result<ACMEHTTPResponse, ACMEError>) -> Void) {
        let target: HTTPSRequestTarget
        do {
            target = try HTTPSRequestTarget(url: request.url)
        } catch {
            completion(.failure(error))
            return
        }
        let rejection: String? = inbox.withLock { inbox in
            if inbox.isClosed { return "the stack is shutting down" }
            guard inbox.waiting.count < Self.maximumQueued else {
                return "more than \(Self.maximumQueued) requests are queued"
            }
            inbox.waiting.append(Submission(request: request, target: target, completion: completion))
            return nil
        }
        if let rejection {
            Self.log.warning("HTTPS request rejected", "url=\(request.url) reason=\(rejection)")
            completion(.failure(.transportFailed(url: request.url, detail: rejection)))
        }
    }

    public func perform(_ request: ACMEHTTPRequest) async throws -> ACMEHTTPResponse {
        try await withCheckedThrowingContinuation { continuation in
            submit(request) { result in
                switch result {
                case .success(let response): continuation.resume(returning: response)
                case .failure(let error): continuation.resume(throwing: error)
                }
            }
        }
    }

    /// Fails every queued and running request and refuses new ones. Call it
    /// on the loop thread after the loop stopped.
    public func close() {
        let waiting = inbox.withLock { inbox in
            inbox.isClosed = true
            defer { inbox.waiting.removeAll() }
            return inbox.waiting
        }
        for submission in waiting {
            submission.completion(.failure(.transportFailed(url: submission.request.url,
                                                            detail: "the stack is shutting down")))
        }
        for exchange in active { exchange.fail("the stack is shutting down") }
        active.removeAll()
    }

    public func poll(now: Instant) {
        startQueued(now: now)
        guard !active.isEmpty else { return }
        readBuffer.withUnsafeMutableBytes { buffer in
            for exchange in active { exchange.poll(now: now, readBuffer: buffer) }
        }
        active.removeAll { $0.phase == .finished }
        // Freed slots take the next queued requests at once.
        startQueued(now: now)
    }

    public var nextDeadline: Instant? {
        active.lazy.filter { $0.phase != .finished }.map(\.deadline).min()
    }

    private func startQueued(now: Instant) {
        let free = Self.maximumActive - active.count
        guard free > 0 else { return }
        let started = inbox.withLock { inbox -> [Submission] in
            let count = min(free, inbox.waiting.count)
            defer { inbox.waiting.removeFirst(count) }
            return Array(inbox.waiting.prefix(count))
        }
        for submission in started {
            let exchange = StackHTTPSExchange(request: submission.request, target: submission.target,
                                              tlsConfiguration: tlsConfiguration,
                                              trustDescription: trustDescription, userAgent: userAgent,
                                              deadline: now + Self.requestTimeout, completion: submission.completion)
            active.append(exchange)
            route(exchange, now: now)
        }
    }

    private func route(_ exchange: StackHTTPSExchange, now: Instant) {
        if let address = exchange.target.address {
            exchange.connect(to: address, tcp: tcp, now: now)
            return
        }
        guard let resolver else {
            exchange.fail("host \(exchange.target.host) needs a DNS server to resolve it: give --dns-server ADDRESS "
                + "or put an IPv4 address in the URL")
            return
        }
        let host = exchange.target.host
        let tcp = tcp
        let clock = self.now
        resolver.resolve(host: host, now: now) { result in
            switch result {
            case .success(let addresses):
                guard let address = addresses.first else {
                    exchange.fail("\(host) has no IPv4 address")
                    return
                }
                Self.log.debug("resolved", "host=\(host) address=\(address)")
                exchange.connect(to: address, tcp: tcp, now: clock())
            case .failure(let error):
                exchange.fail("cannot resolve \(host): \(error)")
            }
        }
    }
}
