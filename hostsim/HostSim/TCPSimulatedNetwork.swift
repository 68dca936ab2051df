import CapnetBase
import NetStack

/// Impairments of a simulated link, applied per datagram with a seeded generator.
public struct TCPLinkImpairments: Sendable {
    /// Probability that a datagram is lost.
    public var loss = 0.0
    /// Probability that a datagram is delivered twice.
    public var duplication = 0.0
    /// Probability that a datagram is held back by `reorderDelay` so later ones overtake it.
    public var reordering = 0.0
    public var reorderDelay = Nanoseconds.milliseconds(15)
    /// One-way propagation delay.
    public var delay = Nanoseconds.milliseconds(10)
    /// Bytes per second serialised onto the link in each direction; 0 is unlimited.
    public var bandwidth = 0
    /// Datagrams waiting for serialisation per direction; more are dropped (a drop-tail queue).
    public var queueLimit = 1000

    public init(loss: Double = 0, duplication: Double = 0, reordering: Double = 0,
                delay: Nanoseconds = .milliseconds(10), bandwidth: Int = 0) {
        self.loss = loss
        self.duplication = duplication
        self.reordering = reordering
        self.delay = delay
        self.bandwidth = bandwidth
    }
}

/// One IPv4 datagram carrying TCP, in flight or captured.
public struct SimulatedDatagram: Sendable {
    public var source: IPv4Address
    public var destination: IPv4Address
    public var payload: [UInt8]
    public var deliveryTime: Instant
    /// Order of sending, to keep delivery stable for equal times.
    var sequence: UInt64
}

/// Two TCP layers joined by a deterministic impaired link under a virtual
/// clock. The same seed gives the same run, segment for segment.
public final class TCPSimulatedNetwork {
    public let clock: VirtualTimeSource
    public private(set) var hosts: [TCPLayer] = []
    public var impairments: TCPLinkImpairments
    var random: SeededRandom
    var inFlight: [SimulatedDatagram] = []
    private var sendSequence: UInt64 = 0
    /// When each direction's serialiser is next free, keyed by source address.
    private var linkFreeAt: [IPv4Address: Instant] = [:]
    /// Every datagram handed to the link, in order (for determinism checks).
    public private(set) var sentDigest: UInt64 = 0xcbf2_9ce4_8422_2325
    public private(set) var datagramsSent = 0
    public private(set) var datagramsLost = 0
    /// Upper bound on loop iterations for one `run` call, so a bug cannot hang a test.
    public var maximumSteps = 5_000_000
    /// Set when a layer kept asking to be polled at one instant without effect.
    public private(set) var stalled = false
    private var pollsWithoutProgress = 0
    static let maximumPollsWithoutProgress = 10_000

    public init(seed: UInt64, impairments: TCPLinkImpairments, clock: VirtualTimeSource = VirtualTimeSource()) {
        self.random = SeededRandom(seed: seed)
        self.impairments = impairments
        self.clock = clock
    }

    /// Adds a host; its layer's local address identifies it on the link.
    public func addHost(_ layer: TCPLayer) { hosts.append(layer) }

    /// An `IPv4Output` that puts datagrams on this link.
    public struct Output: IPv4Output {
        let network: TCPSimulatedNetwork

        public mutating func send(source: IPv4Address, destination: IPv4Address, protocolNumber: IPProtocol,
                                  payloadLength: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) -> Bool {
            var bytes = [UInt8](repeating: 0, count: payloadLength)
            bytes.withUnsafeMutableBytes { fill($0) }
            network.enqueue(source: source, destination: destination, payload: bytes)
            return true
        }
    }

    func enqueue(source: IPv4Address, destination: IPv4Address, payload: [UInt8]) {
        datagramsSent += 1
        pollsWithoutProgress = 0
        // FNV-1a over every byte sent, so two runs can be compared cheaply.
        for byte in payload { sentDigest = (sentDigest ^ UInt64(byte)) &* 0x100_0000_01b3 }

        let now = clock.now()
        let queued = inFlight.filter { $0.source == source && now < $0.deliveryTime }.count
        if random.chance(impairments.loss) || queued >= impairments.queueLimit {
            datagramsLost += 1
            return
        }
        var departure = now
        if impairments.bandwidth > 0 {
            let start = max(linkFreeAt[source] ?? now, now)
            let transmission = Nanoseconds(Int64(payload.count + Self.ipv4HeaderLength) * 1_000_000_000
                                           / Int64(impairments.bandwidth))
            departure = start + transmission
            linkFreeAt[source] = departure
        }
        var delivery = departure + impairments.delay
        if random.chance(impairments.reordering) { delivery = delivery + impairments.reorderDelay }
        append(SimulatedDatagram(source: source, destination: destination, payload: payload, deliveryTime: delivery,
                                 sequence: 0))
        if random.chance(impairments.duplication) {
            append(SimulatedDatagram(source: source, destination: destination, payload: payload,
                                     deliveryTime: delivery + .microseconds(1), sequence: 0))
        }
    }

    /// IPv4 header bytes counted against the bandwidth.
    static let ipv4HeaderLength = 20

    private func append(_ datagram: SimulatedDatagram) {
        var datagram = datagram
        sendSequence += 1
        datagram.sequence = sendSequence
        inFlight.append(datagram)
    }

    /// Runs the network until `condition` holds or `deadline` passes; returns
    /// whether the condition held. `tick` runs after every event so tests can
    /// drive sockets.
    ///
    /// With `step`, the clock never jumps further than that at once, so
    /// `tick` also runs at least that often (for timers of the test's own).
    @discardableResult
    public func run(until deadline: Instant, step: Nanoseconds? = nil, tick: () -> Void = {},
                    condition: () -> Bool = { false }) -> Bool {
        var steps = 0
        while steps < maximumSteps {
            steps += 1
            tick()
            if condition() { return true }

            // Deliver everything due now, then poll due layers.
            let now = clock.now()
            if let index = nextDueDatagram(now: now) {
                let datagram = inFlight.remove(at: index)
                pollsWithoutProgress = 0
                deliver(datagram, now: now)
                continue
            }
            var polled = false
            for host in hosts {
                if let due = host.nextDeadline, due <= now {
                    var output = Output(network: self)
                    host.poll(now: now, output: &output)
                    polled = true
                }
            }
            if polled {
                // A layer that stays due without sending or advancing time is stuck.
                pollsWithoutProgress += 1
                if pollsWithoutProgress > Self.maximumPollsWithoutProgress {
                    stalled = true
                    return condition()
                }
                continue
            }
            pollsWithoutProgress = 0

            // Nothing due: jump to the next event.
            var next = deadline
            for datagram in inFlight where datagram.deliveryTime < next { next = datagram.deliveryTime }
            for host in hosts { if let due = host.nextDeadline, due < next { next = due } }
            if let step, now + step < next { next = now + step }
            if next >= deadline && clock.now() >= deadline { return condition() }
            clock.advance(to: min(next, deadline))
            if clock.now() >= deadline && next >= deadline {
                tick()
                return condition()
            }
        }
        return condition()
    }

    /// Runs for `span` of virtual time.
    @discardableResult
    public func run(for span: Nanoseconds, step: Nanoseconds? = nil, tick: () -> Void = {},
                    condition: () -> Bool = { false }) -> Bool {
        run(until: clock.now() + span, step: step, tick: tick, condition: condition)
    }

    private func nextDueDatagram(now: Instant) -> Int? {
        var best: Int?
        for (i, datagram) in inFlight.enumerated() where datagram.deliveryTime <= now {
            if let b = best {
                let current = inFlight[b]
                if datagram.deliveryTime < current.deliveryTime
                    || (datagram.deliveryTime == current.deliveryTime && datagram.sequence < current.sequence) {
                    best = i
                }
            } else {
                best = i
            }
        }
        return best
    }

    private func deliver(_ datagram: SimulatedDatagram, now: Instant) {
        guard let host = hosts.first(where: { $0.configuration.localAddress == datagram.destination }) else { return }
        var output = Output(network: self)
        datagram.payload.withUnsafeBytes { bytes in
            host.receive(source: datagram.source, destination: datagram.destination, payload: bytes, now: now,
                         output: &output)
        }
    }
}
