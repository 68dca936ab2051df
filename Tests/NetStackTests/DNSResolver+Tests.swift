import CapnetBase
import Testing
@testable import NetStack

/// A resolver under a virtual clock, with scapy responses whose ID is
/// rewritten to the one the resolver drew.
struct ResolverHarness {
    static let server = IPv4Endpoint(address: IPv4Address(192, 0, 2, 1), port: 53)
    static let ourAddress = IPv4Address(192, 0, 2, 2)

    var resolver: DNSResolver
    let clock = VirtualTimeSource()
    let start: Instant

    init(seed: UInt64 = 1, configure: (inout DNSResolver.Configuration) -> Void = { _ in }) {
        var configuration = DNSResolver.Configuration(server: Self.server)
        configure(&configuration)
        resolver = DNSResolver(configuration: configuration, random: SeededRandom(seed: seed))
        start = clock.now()
    }

    var now: Instant { clock.now() }

    mutating func advance(to offset: Nanoseconds) {
        clock.advance(to: start + offset)
        resolver.poll(now: clock.now())
    }

    /// Delivers scapy vector `name` as the response to `transmission`, with its ID.
    mutating func respond(to transmission: DNSResolver.Transmission, with name: String,
                          from source: IPv4Endpoint = server, toPort port: UInt16? = nil, keepID: Bool = false) throws {
        var payload = try DNSVectors.vector(name)
        if !keepID {
            payload[0] = transmission.payload[0]
            payload[1] = transmission.payload[1]
        }
        let destination = IPv4Endpoint(address: Self.ourAddress, port: port ?? transmission.sourcePort)
        resolver.receive(UDPReceivedDatagram(source: source, destination: destination, payload: payload), now: now)
    }

    /// Starts `name` and returns its one transmission.
    mutating func startQuery(_ name: String = "capnet.test") throws -> (DNSQueryID, DNSResolver.Transmission) {
        let id = resolver.start(name: name, now: now)
        let sent = resolver.takeTransmissions()
        try #require(sent.count == 1, "expected one transmission for \(name), got \(sent.count)")
        return (id, sent[0])
    }
}

@Suite struct DNSResolverTests {
    static let capnet = try! DNSName("capnet.test")
    static let server = ResolverHarness.server

    @Test func queryBytesMatchScapyApartFromID() throws {
        var harness = ResolverHarness()
        let (_, sent) = try harness.startQuery()
        #expect(sent.destination == Self.server)
        #expect(hex(Array(sent.payload.dropFirst(2))) == hex(Array(try DNSVectors.vector("query").dropFirst(2))))
    }

    @Test func retransmitScheduleDoublesThenTimesOut() throws {
        var harness = ResolverHarness()
        let (id, first) = try harness.startQuery()
        #expect(harness.resolver.nextDeadline == harness.start + .seconds(1))

        // Attempt 2 one second after the first; attempt 3 two seconds later.
        harness.advance(to: .seconds(1) - Nanoseconds(1))
        #expect(harness.resolver.takeTransmissions().isEmpty)
        harness.advance(to: .seconds(1))
        let second = harness.resolver.takeTransmissions()
        #expect(second == [first])
        #expect(harness.resolver.nextDeadline == harness.start + .seconds(3))

        harness.advance(to: .seconds(3) - Nanoseconds(1))
        #expect(harness.resolver.takeTransmissions().isEmpty)
        harness.advance(to: .seconds(3))
        #expect(harness.resolver.takeTransmissions() == [first])
        #expect(harness.resolver.nextDeadline == harness.start + .seconds(7))

        // The third attempt waits four seconds, then the query fails.
        harness.advance(to: .seconds(7) - Nanoseconds(1))
        #expect(harness.resolver.takeCompletions().isEmpty)
        harness.advance(to: .seconds(7))
        #expect(harness.resolver.takeTransmissions().isEmpty)
        let completions = harness.resolver.takeCompletions()
        #expect(completions.map(\.queryID) == [id])
        #expect(completions.first?.result == .failure(.timedOut(Self.capnet, server: Self.server, attempts: 3)))
        #expect(completions.first?.sourcePort == first.sourcePort)
        #expect(harness.resolver.queriesInFlight == 0)
        #expect(harness.resolver.nextDeadline == nil)
        #expect(harness.resolver.counters.queriesSent == 3)
        #expect(harness.resolver.counters.retransmissions == 2)
        #expect(harness.resolver.counters.timeouts == 1)
    }

    @Test func attemptsAndTimeoutConfigurable() throws {
        var harness = ResolverHarness { $0.maximumAttempts = 1; $0.initialTimeout = .milliseconds(500) }
        _ = try harness.startQuery()
        harness.advance(to: .milliseconds(500))
        #expect(harness.resolver.takeTransmissions().isEmpty)
        #expect(harness.resolver.takeCompletions().first?.result == .failure(.timedOut(Self.capnet, server: Self.server, attempts: 1)))
    }

    @Test func responseCompletesWithAddresses() throws {
        var harness = ResolverHarness()
        let (id, sent) = try harness.startQuery()
        try harness.respond(to: sent, with: "aAnswer")
        let completions = harness.resolver.takeCompletions()
        #expect(completions.map(\.queryID) == [id])
        #expect(completions.first?.name == "capnet.test")
        #expect(completions.first?.result == .success([IPv4Address(198, 51, 100, 7), IPv4Address(198, 51, 100, 9)]))
        #expect(completions.first?.sourcePort == sent.sourcePort)
        #expect(harness.resolver.nextDeadline == nil)
    }

    @Test func cacheHitWithinTTLAndMissAfter() throws {
        var harness = ResolverHarness()
        let (_, sent) = try harness.startQuery()
        try harness.respond(to: sent, with: "aAnswer")  // minimum TTL 120 s
        _ = harness.resolver.takeCompletions()

        harness.advance(to: .seconds(120) - Nanoseconds(1))
        _ = harness.resolver.start(name: "CAPNET.test.", now: harness.now)
        #expect(harness.resolver.takeTransmissions().isEmpty)
        let hit = harness.resolver.takeCompletions()
        #expect(hit.first?.result == .success([IPv4Address(198, 51, 100, 7), IPv4Address(198, 51, 100, 9)]))
        #expect(hit.first?.sourcePort == nil)
        #expect(harness.resolver.counters.cacheHits == 1)

        harness.advance(to: .seconds(120))
        _ = try harness.startQuery()
        #expect(harness.resolver.takeCompletions().isEmpty)
    }

    @Test func cacheTTLCappedAtOneHour() throws {
        var harness = ResolverHarness()
        let (_, sent) = try harness.startQuery()
        try harness.respond(to: sent, with: "aAnswerLongTTL")  // TTL 86400 s
        _ = harness.resolver.takeCompletions()

        harness.advance(to: .seconds(3599))
        _ = harness.resolver.start(name: "capnet.test", now: harness.now)
        #expect(harness.resolver.takeTransmissions().isEmpty)
        harness.advance(to: .seconds(3600))
        _ = try harness.startQuery()
    }

    @Test func zeroTTLNotCached() throws {
        var harness = ResolverHarness()
        let (_, sent) = try harness.startQuery()
        try harness.respond(to: sent, with: "aAnswerTopBitTTL")
        #expect(harness.resolver.takeCompletions().first?.result == .success([IPv4Address(198, 51, 100, 7)]))
        _ = try harness.startQuery()
    }

    @Test func errorResponsesCompleteAndAreNotCached() throws {
        var harness = ResolverHarness()
        let (_, sent) = try harness.startQuery()
        try harness.respond(to: sent, with: "nxdomain")
        #expect(harness.resolver.takeCompletions().first?.result == .failure(.nameNotFound(Self.capnet, server: Self.server)))
        let (_, again) = try harness.startQuery()
        try harness.respond(to: again, with: "truncatedFlag")
        #expect(harness.resolver.takeCompletions().first?.result == .failure(.truncatedResponse(Self.capnet, server: Self.server)))
    }

    @Test func malformedResponseWithOurIDFails() throws {
        var harness = ResolverHarness()
        let (_, sent) = try harness.startQuery()
        try harness.respond(to: sent, with: "pointerLoop")
        let reason = DNSWireError.pointerLoop(offset: 29, jumps: DNSMessage.maximumCompressionPointers)
        #expect(harness.resolver.takeCompletions().first?.result
                == .failure(.malformedResponse(Self.capnet, server: Self.server, reason: reason)))
    }

    @Test func unmatchedDatagramsIgnored() throws {
        var harness = ResolverHarness()
        let (id, sent) = try harness.startQuery()
        try #require(sent.payload[0] != 0x43 || sent.payload[1] != 0x21, "the drawn ID equals the wrong-ID vector's")

        try harness.respond(to: sent, with: "aAnswer", from: IPv4Endpoint(address: IPv4Address(192, 0, 2, 9), port: 53))
        try harness.respond(to: sent, with: "aAnswer", from: IPv4Endpoint(address: Self.server.address, port: 5353))
        try harness.respond(to: sent, with: "aAnswer", toPort: sent.sourcePort &+ 1)
        try harness.respond(to: sent, with: "wrongID", keepID: true)
        try harness.respond(to: sent, with: "wrongName")
        try harness.respond(to: sent, with: "wrongType")
        try harness.respond(to: sent, with: "pointerLoop", keepID: true)  // ID 0x1234 is not ours.
        #expect(harness.resolver.takeCompletions().isEmpty)
        #expect(harness.resolver.counters.ignoredDatagrams == 7)

        try harness.respond(to: sent, with: "aAnswer")
        #expect(harness.resolver.takeCompletions().map(\.queryID) == [id])
    }

    @Test func queriesInFlightBounded() throws {
        var harness = ResolverHarness()
        var ports: Set<UInt16> = []
        var ids: Set<UInt16> = []
        for index in 0..<16 {
            let (_, sent) = try harness.startQuery("host\(index).capnet.test")
            ports.insert(sent.sourcePort)
            ids.insert(UInt16(sent.payload[0]) << 8 | UInt16(sent.payload[1]))
            #expect(ephemeralPorts.contains(sent.sourcePort))
        }
        #expect(ports.count == 16)
        #expect(ids.count > 1)
        #expect(harness.resolver.queriesInFlight == 16)

        let rejected = harness.resolver.start(name: "host16.capnet.test", now: harness.now)
        #expect(harness.resolver.takeTransmissions().isEmpty)
        let completions = harness.resolver.takeCompletions()
        #expect(completions.map(\.queryID) == [rejected])
        #expect(completions.first?.result == .failure(.tooManyQueries(limit: 16)))
        // A literal needs no slot.
        _ = harness.resolver.start(name: "192.0.2.7", now: harness.now)
        #expect(harness.resolver.takeCompletions().first?.result == .success([IPv4Address(192, 0, 2, 7)]))
    }

    @Test func sourcePortsDifferBetweenSeeds() throws {
        var first = ResolverHarness(seed: 1)
        var second = ResolverHarness(seed: 2)
        #expect(try first.startQuery().1.sourcePort != second.startQuery().1.sourcePort)
    }

    @Test func literalAndInvalidNameCompleteAtOnce() {
        var harness = ResolverHarness()
        _ = harness.resolver.start(name: "198.51.100.7", now: harness.now)
        _ = harness.resolver.start(name: "bad name", now: harness.now)
        #expect(harness.resolver.takeTransmissions().isEmpty)
        let results = harness.resolver.takeCompletions().map(\.result)
        #expect(results.first == .success([IPv4Address(198, 51, 100, 7)]))
        guard case .failure(.invalidName("bad name", _)) = results.last else {
            Issue.record("expected invalidName, got \(String(describing: results.last))")
            return
        }
    }

    @Test func unavailableSourcePortRedrawnThenFails() throws {
        var harness = ResolverHarness()
        let (id, first) = try harness.startQuery()
        var ports: Set<UInt16> = [first.sourcePort]
        for _ in 1..<8 {
            harness.resolver.sourcePortUnavailable(queryID: id)
            let sent = harness.resolver.takeTransmissions()
            #expect(sent.count == 1)
            #expect(sent.first?.payload == first.payload)
            if let port = sent.first?.sourcePort { ports.insert(port) }
        }
        #expect(ports.count == 8)
        harness.resolver.sourcePortUnavailable(queryID: id)
        #expect(harness.resolver.takeTransmissions().isEmpty)
        #expect(harness.resolver.takeCompletions().first?.result == .failure(.noFreeSourcePort(Self.capnet, tries: 8)))
    }

    @Test func cancelAllFailsQueriesInFlight() throws {
        var harness = ResolverHarness()
        _ = try harness.startQuery()
        harness.resolver.cancelAll()
        #expect(harness.resolver.takeCompletions().first?.result == .failure(.closed(Self.capnet)))
        #expect(harness.resolver.queriesInFlight == 0)
    }
}

@Suite struct DNSCacheTests {
    static let a = try! DNSName("a.test")
    static let b = try! DNSName("b.test")
    static let c = try! DNSName("c.test")
    static let address = [IPv4Address(198, 51, 100, 1)]

    @Test func fullCacheEvictsSoonestExpiry() {
        var configuration = DNSCache.Configuration()
        configuration.capacity = 2
        var cache = DNSCache(configuration: configuration)
        cache.insert(Self.a, addresses: Self.address, timeToLive: 100, now: .zero)
        cache.insert(Self.b, addresses: Self.address, timeToLive: 50, now: .zero)
        cache.insert(Self.c, addresses: Self.address, timeToLive: 200, now: .zero)
        #expect(cache.count == 2)
        #expect(cache.lookup(Self.a, now: .zero) == Self.address)
        #expect(cache.lookup(Self.b, now: .zero) == nil)
        #expect(cache.lookup(Self.c, now: .zero) == Self.address)
    }

    @Test func fullCacheDropsExpiredFirst() {
        var configuration = DNSCache.Configuration()
        configuration.capacity = 2
        var cache = DNSCache(configuration: configuration)
        cache.insert(Self.a, addresses: Self.address, timeToLive: 10, now: .zero)
        cache.insert(Self.b, addresses: Self.address, timeToLive: 1000, now: .zero)
        cache.insert(Self.c, addresses: Self.address, timeToLive: 5, now: .zero + .seconds(20))
        #expect(cache.lookup(Self.b, now: .zero + .seconds(20)) == Self.address)
        #expect(cache.lookup(Self.c, now: .zero + .seconds(20)) == Self.address)
        #expect(cache.lookup(Self.a, now: .zero + .seconds(20)) == nil)
    }

    @Test func defaultsBoundEntriesAndTTL() {
        let configuration = DNSCache.Configuration()
        #expect(configuration.capacity == 64)
        #expect(configuration.maximumTimeToLive == 3600)
    }
}
