import CapnetBase
import Synchronization

/// Runs a `DNSResolver` on an interface: binds one UDP socket per query on
/// the query's random source port, feeds the resolver what arrives, sends
/// what it emits and calls completions.
///
/// `resolve(_:completion:)` may be called from any thread. Everything else,
/// `poll(now:)` and `close()` included, runs on the interface's loop thread,
/// and so do the completions. A submission from another thread waits until
/// the next turn, at most `Interface.maximumRunWait` later.
public final class DNSResolverService: InterfaceService, @unchecked Sendable {
    // @unchecked: the only state touched off the loop thread is `inbox`, behind its Mutex.

    public typealias Completion = @Sendable (Result<[IPv4Address], DNSError>) -> Void

    /// Submissions waiting for the loop thread. `resolve` throws
    /// `tooManyQueries` beyond it, which bounds the memory other threads can
    /// fill; 64 is four times the default in-flight bound.
    public static let defaultSubmissionCapacity = 64

    private struct Submission: Sendable {
        var name: String
        var completion: Completion
    }

    private struct Inbox: Sendable {
        var submissions: [Submission] = []
        var isClosed = false
    }

    static let log = Logger(.dns)

    public let submissionCapacity: Int
    private let inbox = Mutex(Inbox())

    // Loop-thread state. The interface is weak because it keeps its services alive.
    private weak var interface: Interface?
    private var resolver: DNSResolver
    private var sockets: [DNSQueryID: UDPSocket] = [:]
    private var callbacks: [DNSQueryID: Completion] = [:]
    private var sendFailureLog = LogRateLimiter()

    /// Creates a resolver for `configuration.server` on `interface`; call
    /// `interface.addService` with it, or use `start(on:configuration:)`.
    public init(interface: Interface, configuration: DNSResolver.Configuration,
                random: any RandomNumberGenerator = SystemRandomNumberGenerator(),
                submissionCapacity: Int = DNSResolverService.defaultSubmissionCapacity) throws(InterfaceError) {
        let server = configuration.server
        guard server.port != 0, !server.address.isUnspecified, !server.address.isMulticast, server.address != .broadcast else {
            throw InterfaceError("DNS server \(server) is not a unicast address and port; give the recursive server's address, such as 192.0.2.1:53")
        }
        guard configuration.maximumAttempts > 0, configuration.maximumQueriesInFlight > 0,
              configuration.initialTimeout > .zero, submissionCapacity > 0 else {
            throw InterfaceError("DNS resolver attempts, queries in flight, initial timeout and submission capacity must be positive")
        }
        self.interface = interface
        self.submissionCapacity = submissionCapacity
        resolver = DNSResolver(configuration: configuration, random: random)
    }

    /// Creates the service and registers it to be polled on `interface`.
    public static func start(on interface: Interface, configuration: DNSResolver.Configuration) throws(InterfaceError) -> DNSResolverService {
        let service = try DNSResolverService(interface: interface, configuration: configuration)
        interface.addService(service)
        return service
    }

    /// Queues `name` for resolution; `completion` is called once on the
    /// loop thread with the addresses or the error. Throws `tooManyQueries`
    /// when `submissionCapacity` submissions are waiting, and `closed` after
    /// `close()`; the completion is not called then.
    public func resolve(_ name: String, completion: @escaping Completion) throws(DNSError) {
        let capacity = submissionCapacity
        let error = inbox.withLock { inbox -> DNSError? in
            guard !inbox.isClosed else { return .closed(nil) }
            guard inbox.submissions.count < capacity else { return .tooManyQueries(limit: capacity) }
            inbox.submissions.append(Submission(name: name, completion: completion))
            return nil
        }
        if let error { throw error }
    }

    /// Counts of the resolver, for display and tests. Loop thread only.
    public var counters: DNSResolver.Counters { resolver.counters }

    public var nextDeadline: Instant? { resolver.nextDeadline }

    public func poll(now: Instant) {
        guard let interface else {
            close()
            return
        }

        // 1. Responses on the queries' ports.
        for socket in sockets.values {
            while let datagram = socket.receive() {
                resolver.receive(datagram, now: now)
            }
        }

        // 2. Retransmissions and timeouts.
        resolver.poll(now: now)
        deliverCompletions()

        // 3. New submissions, as many as there are free query slots.
        let free = resolver.configuration.maximumQueriesInFlight - resolver.queriesInFlight
        if free > 0 {
            let started = inbox.withLock { inbox -> [Submission] in
                let batch = Array(inbox.submissions.prefix(free))
                inbox.submissions.removeFirst(batch.count)
                return batch
            }
            for submission in started {
                let id = resolver.start(name: submission.name, now: now)
                callbacks[id] = submission.completion
            }
        }

        // 4. Datagrams, then the completions that needed no query (literals, cache hits, errors).
        send(on: interface)
        deliverCompletions()
    }

    /// Fails the queries in flight and the waiting submissions with
    /// `closed`, closes the sockets and rejects later submissions. Loop thread only.
    public func close() {
        resolver.cancelAll()
        deliverCompletions()
        let waiting = inbox.withLock { inbox -> [Submission] in
            inbox.isClosed = true
            defer { inbox.submissions.removeAll() }
            return inbox.submissions
        }
        for submission in waiting {
            submission.completion(.failure(.closed(try? DNSName(submission.name))))
        }
        sockets.values.forEach { $0.close() }
        sockets.removeAll()
    }

    /// Sends the resolver's datagrams, binding each query's source port on
    /// first use. A port already bound by someone else is reported back so
    /// the resolver draws another; each query does so a bounded number of times.
    private func send(on interface: Interface) {
        var pending = resolver.takeTransmissions()
        while !pending.isEmpty {
            for transmission in pending {
                guard let socket = socket(for: transmission, on: interface) else {
                    resolver.sourcePortUnavailable(queryID: transmission.queryID)
                    continue
                }
                let sent: Bool
                do {
                    sent = try socket.send(transmission.payload, to: transmission.destination)
                } catch {
                    sent = false
                }
                if !sent, sendFailureLog.allow(now: interface.currentTime) {
                    // A lost transmission is retransmitted on timeout like a lost datagram.
                    Self.log.info("DNS query not sent; the interface dropped it", "query=\(transmission.queryID) to=\(transmission.destination)")
                }
            }
            pending = resolver.takeTransmissions()
        }
    }

    /// Returns the socket bound to the transmission's source port, binding it
    /// and closing the query's previous socket when the port changed.
    private func socket(for transmission: DNSResolver.Transmission, on interface: Interface) -> UDPSocket? {
        if let socket = sockets[transmission.queryID] {
            if socket.localPort == transmission.sourcePort { return socket }
            socket.close()
            sockets[transmission.queryID] = nil
        }
        guard let socket = try? interface.bindUDP(port: transmission.sourcePort) else {
            Self.log.debug("DNS source port unavailable", "query=\(transmission.queryID) port=\(transmission.sourcePort)")
            return nil
        }
        sockets[transmission.queryID] = socket
        return socket
    }

    private func deliverCompletions() {
        for completion in resolver.takeCompletions() {
            sockets.removeValue(forKey: completion.queryID)?.close()
            callbacks.removeValue(forKey: completion.queryID)?(completion.result)
        }
    }
}
