import CapnetBase

/// Identifies one resolution started on a `DNSResolver`. It is not the
/// 16-bit ID on the wire, which is random per query.
public struct DNSQueryID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64

    public static func < (lhs: DNSQueryID, rhs: DNSQueryID) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "#\(rawValue)" }
}

/// A stub resolver for A records (RFC 1034 §5.3.1) over UDP to one
/// recursive server, as a sans-IO state machine: events go in through
/// `start`, `receive` and `poll`, and the owner sends what `takeTransmissions`
/// returns and delivers what `takeCompletions` returns.
///
/// Each query goes out from its own random source port with a random ID, as
/// RFC 5452 recommends against forged responses. A response is accepted only
/// from the server's address and port, on that source port, with that ID and our question.
public struct DNSResolver {
    public struct Configuration: Sendable {
        /// The recursive DNS server, such as 192.0.2.1 port 53.
        public var server: IPv4Endpoint
        /// The wait for a response to the first transmission. Each
        /// retransmission waits twice as long as the one before it
        /// (exponential backoff), so with the defaults a query is sent at 0,
        /// 1 and 3 seconds and fails at 7 seconds. RFC 1035 §4.2.1 leaves the
        /// policy to the resolver. One second suits a recursive server on the
        /// local network, while glibc's stub resolver waits 5 seconds (RES_TIMEOUT in resolv.h).
        public var initialTimeout: Nanoseconds = .seconds(1)
        /// Transmissions of one query, the first included, before it fails with `timedOut`.
        public var maximumAttempts = 3
        /// Queries waiting for a response at once; `start` fails beyond it
        /// with `tooManyQueries`. It bounds the sockets and memory the resolver uses.
        public var maximumQueriesInFlight = 16
        /// The ports source ports are drawn from: the IANA ephemeral range (RFC 6335 §6).
        public var sourcePorts: ClosedRange<UInt16> = 49152...65535
        /// Random source ports tried for one query when the owner reports
        /// the chosen port as unavailable, before the query fails.
        public var maximumSourcePortChoices = 8
        public var cache = DNSCache.Configuration()

        public init(server: IPv4Endpoint) {
            self.server = server
        }
    }

    /// A datagram for the owner to send from `sourcePort` to `destination`.
    public struct Transmission: Hashable, Sendable {
        public var queryID: DNSQueryID
        public var sourcePort: UInt16
        public var destination: IPv4Endpoint
        public var payload: [UInt8]
    }

    /// A finished resolution. `sourcePort` is the port the query used, which
    /// the owner can now release; it is nil when nothing was sent.
    public struct Completion: Sendable {
        public var queryID: DNSQueryID
        public var name: String
        public var result: Result<[IPv4Address], DNSError>
        public var sourcePort: UInt16?
    }

    /// Counts for display and tests.
    public struct Counters: Hashable, Sendable {
        public var queriesSent: UInt64 = 0
        public var retransmissions: UInt64 = 0
        public var timeouts: UInt64 = 0
        public var cacheHits: UInt64 = 0
        /// Datagrams dropped because they came from another address or port,
        /// carried another ID or question, or arrived on no query's port.
        public var ignoredDatagrams: UInt64 = 0
    }

    private struct Query {
        let id: DNSQueryID
        let text: String
        let name: DNSName
        let wireID: UInt16
        let payload: [UInt8]
        var sourcePort: UInt16
        var attempts: Int
        var timeout: Nanoseconds
        var deadline: Instant
        var sourcePortChoices: Int
    }

    static let log = Logger(.dns)

    public let configuration: Configuration
    public private(set) var counters = Counters()
    public private(set) var cache: DNSCache
    private var random: any RandomNumberGenerator
    private var queries: [Query] = []
    private var nextID: UInt64 = 1
    private var transmissions: [Transmission] = []
    private var completions: [Completion] = []

    /// Creates a resolver whose IDs and source ports come from `random`.
    /// Outside tests, give an unpredictable generator such as
    /// `SystemRandomNumberGenerator`. A predictable one lets an off-path
    /// attacker forge responses (RFC 5452 §3).
    public init(configuration: Configuration, random: any RandomNumberGenerator) {
        self.configuration = configuration
        self.random = random
        cache = DNSCache(configuration: configuration.cache)
    }

    /// Queries waiting for a response.
    public var queriesInFlight: Int { queries.count }

    /// The earliest retransmission or timeout, or nil when nothing is in flight.
    public var nextDeadline: Instant? { queries.map(\.deadline).min() }

    /// Starts resolving `name` and returns the ID its completion will carry.
    ///
    /// An IPv4 literal (`192.0.2.7`) and a name cached at `now` complete at
    /// once without a query. An invalid name and a start beyond
    /// `maximumQueriesInFlight` also complete at once, with an error.
    public mutating func start(name: String, now: Instant) -> DNSQueryID {
        let id = DNSQueryID(rawValue: nextID)
        nextID += 1

        if let literal = IPv4Address(name) {
            complete(id: id, name: name, result: .success([literal]), sourcePort: nil)
            return id
        }

        let parsed: DNSName
        do {
            parsed = try DNSName(name)
        } catch {
            complete(id: id, name: name, result: .failure(error), sourcePort: nil)
            return id
        }

        if let addresses = cache.lookup(parsed, now: now) {
            counters.cacheHits += 1
            complete(id: id, name: name, result: .success(addresses), sourcePort: nil)
            return id
        }

        guard queries.count < configuration.maximumQueriesInFlight else {
            complete(id: id, name: name, result: .failure(.tooManyQueries(limit: configuration.maximumQueriesInFlight)),
                     sourcePort: nil)
            return id
        }

        let wireID = UInt16.random(in: .min ... .max, using: &random)
        let query = Query(id: id, text: name, name: parsed, wireID: wireID,
                          payload: DNSMessage.encodeQuery(id: wireID, name: parsed),
                          sourcePort: chooseSourcePort(), attempts: 1, timeout: configuration.initialTimeout,
                          deadline: now + configuration.initialTimeout, sourcePortChoices: 1)
        queries.append(query)
        transmit(query)
        Self.log.debug("DNS query started", "query=\(id) name=\(parsed) port=\(query.sourcePort) server=\(configuration.server)")
        return id
    }

    /// Offers a datagram received on one of the queries' source ports.
    public mutating func receive(_ datagram: UDPReceivedDatagram, now: Instant) {
        guard let index = queries.firstIndex(where: { $0.sourcePort == datagram.destination.port }) else {
            ignore(datagram, reason: "no query uses this port")
            return
        }
        guard datagram.source == configuration.server else {
            ignore(datagram, reason: "not from the configured server")
            return
        }
        let query = queries[index]

        let message: DNSMessage
        do {
            message = try DNSMessage.parse(datagram.payload)
        } catch {
            // Without a parsed question only the ID ties the datagram to the query.
            guard datagram.payload.count >= 2,
                  UInt16(datagram.payload[0]) << 8 | UInt16(datagram.payload[1]) == query.wireID else {
                ignore(datagram, reason: "unparsable and without the query's ID: \(error)")
                return
            }
            finish(at: index, result: .failure(.malformedResponse(query.name, server: configuration.server, reason: error)))
            return
        }
        do {
            try message.checkResponse(toQueryWithID: query.wireID, name: query.name)
        } catch {
            ignore(datagram, reason: error.description)
            return
        }

        do {
            let answer = try message.answer(for: query.name, server: configuration.server)
            cache.insert(query.name, addresses: answer.addresses, timeToLive: answer.timeToLive, now: now)
            finish(at: index, result: .success(answer.addresses))
        } catch {
            finish(at: index, result: .failure(error))
        }
    }

    /// Retransmits the queries whose timeout has passed at `now` and fails
    /// those out of attempts.
    public mutating func poll(now: Instant) {
        var index = 0
        while index < queries.count {
            guard queries[index].deadline <= now else {
                index += 1
                continue
            }
            guard queries[index].attempts < configuration.maximumAttempts else {
                counters.timeouts += 1
                let query = queries[index]
                finish(at: index, result: .failure(.timedOut(query.name, server: configuration.server, attempts: query.attempts)))
                continue  // `finish` removed the query at `index`.
            }
            queries[index].attempts += 1
            queries[index].timeout = queries[index].timeout * 2
            queries[index].deadline = now + queries[index].timeout
            counters.retransmissions += 1
            Self.log.debug("DNS query retransmitted", "query=\(queries[index].id) attempt=\(queries[index].attempts) timeout=\(queries[index].timeout)")
            transmit(queries[index])
            index += 1
        }
    }

    /// Moves query `id` to another random source port and queues its
    /// datagram again, after the owner could not bind the port it was given.
    /// The query fails with `noFreeSourcePort` after `maximumSourcePortChoices` ports.
    public mutating func sourcePortUnavailable(queryID id: DNSQueryID) {
        transmissions.removeAll { $0.queryID == id }
        guard let index = queries.firstIndex(where: { $0.id == id }) else { return }
        guard queries[index].sourcePortChoices < configuration.maximumSourcePortChoices else {
            let query = queries[index]
            queries.remove(at: index)
            complete(id: id, name: query.text, result: .failure(.noFreeSourcePort(query.name, tries: query.sourcePortChoices)),
                     sourcePort: nil)
            return
        }
        queries[index].sourcePortChoices += 1
        queries[index].sourcePort = chooseSourcePort()
        transmissions.append(Transmission(queryID: id, sourcePort: queries[index].sourcePort,
                                          destination: configuration.server, payload: queries[index].payload))
    }

    /// Fails every query in flight with `closed`, for an owner shutting down.
    public mutating func cancelAll() {
        transmissions.removeAll()
        while !queries.isEmpty {
            finish(at: 0, result: .failure(.closed(queries[0].name)))
        }
    }

    /// Removes and returns the datagrams to send, oldest first.
    public mutating func takeTransmissions() -> [Transmission] {
        defer { transmissions.removeAll() }
        return transmissions
    }

    /// Removes and returns the finished resolutions, oldest first.
    public mutating func takeCompletions() -> [Completion] {
        defer { completions.removeAll() }
        return completions
    }

    /// Draws a random source port that no other query in flight uses. With
    /// at most `maximumQueriesInFlight` ports taken out of the range, a few
    /// draws suffice; the loop stops after as many draws as the range holds.
    private mutating func chooseSourcePort() -> UInt16 {
        let range = configuration.sourcePorts
        var port = UInt16.random(in: range, using: &random)
        var draws = 1
        while queries.contains(where: { $0.sourcePort == port }), draws < range.count {
            port = UInt16.random(in: range, using: &random)
            draws += 1
        }
        return port
    }

    private mutating func transmit(_ query: Query) {
        counters.queriesSent += 1
        transmissions.append(Transmission(queryID: query.id, sourcePort: query.sourcePort,
                                          destination: configuration.server, payload: query.payload))
    }

    private mutating func finish(at index: Int, result: Result<[IPv4Address], DNSError>) {
        let query = queries.remove(at: index)
        transmissions.removeAll { $0.queryID == query.id }
        if case .failure(let error) = result {
            Self.log.info("DNS query failed: \(error)", "query=\(query.id)")
        }
        complete(id: query.id, name: query.text, result: result, sourcePort: query.sourcePort)
    }

    private mutating func complete(id: DNSQueryID, name: String, result: Result<[IPv4Address], DNSError>, sourcePort: UInt16?) {
        completions.append(Completion(queryID: id, name: name, result: result, sourcePort: sourcePort))
    }

    private mutating func ignore(_ datagram: UDPReceivedDatagram, reason: String) {
        counters.ignoredDatagrams += 1
        Self.log.debug("DNS datagram ignored: \(reason)", "from=\(datagram.source) port=\(datagram.destination.port)")
    }
}
