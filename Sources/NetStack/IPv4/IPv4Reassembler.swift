import CapnetBase

/// Reassembly of fragmented IPv4 datagrams (RFC 791 §3.2, RFC 815) with
/// bounded memory. Sans-IO: the interface passes fragments and time in,
/// delivers completed datagrams and sends the ICMP errors this type reports.
///
/// Overlapping fragments discard the whole datagram, including fragments
/// still to come (RFC 5722's rule, applied to IPv4); an exact duplicate of
/// a received fragment is ignored.
public struct IPv4Reassembler {
    public struct Configuration: Sendable {
        /// How long a datagram may take to complete, from its first fragment.
        /// RFC 1122 §3.3.2 suggests 60–120 s; Linux uses 30 s (`ipfrag_time`).
        public var timeout: Nanoseconds = .seconds(30)
        /// Datagrams in progress at once, discarded ones included. When full,
        /// the oldest is evicted to make room.
        public var maximumDatagrams = 16
        /// Buffer memory over all datagrams in progress, in octets. A datagram's
        /// buffer reaches to the end of its furthest fragment, and the oldest
        /// other datagrams are evicted to stay under this.
        public var maximumBytes = 256 * 1024
        /// Fragments in one datagram: a 64 KiB datagram at MTU 576 needs 118.
        public var maximumFragmentsPerDatagram = 256

        public init() {}
    }

    /// RFC 791 §3.2: fragments belong together when source, destination,
    /// protocol and identification match.
    struct Key: Hashable {
        var source: IPv4Address
        var destination: IPv4Address
        var protocolNumber: IPProtocol
        var identification: UInt16
    }

    struct Datagram {
        var buffer: [UInt8] = []
        /// Received octet ranges, sorted and disjoint.
        var received: [Range<Int>] = []
        var receivedBytes = 0
        /// Known once the last fragment (MF clear) arrives.
        var totalLength: Int?
        /// Fragment zero's header, with the fragment fields as received.
        var firstHeader: IPv4Repr?
        /// Fragment zero's header with options and its first 8 payload octets,
        /// quoted in ICMP time exceeded (RFC 792).
        var quote: [UInt8] = []
        let deadline: Instant
        let sequence: UInt64
        /// Set after an overlap: fragments are dropped until the deadline.
        var discarded = false
    }

    public enum Outcome {
        case incomplete
        /// The whole payload, with fragment zero's header (fragment fields
        /// cleared) and that fragment's header and first 8 octets as received.
        case complete(IPv4Repr, [UInt8], quote: [UInt8])
        case dropped
    }

    /// Octets of the offending datagram quoted in an ICMP error after its header (RFC 792).
    public static let quotedPayloadLength = 8

    public let configuration: Configuration
    var datagrams: [Key: Datagram] = [:]
    public private(set) var bufferedBytes = 0
    private var nextSequence: UInt64 = 0

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    public var datagramsInProgress: Int { datagrams.count }

    /// Adds one fragment. `header` is the fragment's IPv4 header with options
    /// and `payload` its data. Every drop is reported through `drop`, once per
    /// fragment or datagram discarded.
    public mutating func insert(_ repr: IPv4Repr, header: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer,
                                now: Instant, drop: (DropReason) -> Void) -> Outcome {
        let key = Key(source: repr.source, destination: repr.destination, protocolNumber: repr.protocolNumber,
                      identification: repr.identification)
        let start = repr.fragmentByteOffset
        let end = start + payload.count

        // 1. Check the fragment on its own: every fragment but the last
        //    carries a multiple of 8 octets (RFC 791 §3.2), and the datagram
        //    must fit in 65535 octets with its header.
        if repr.moreFragments && (payload.count == 0 || payload.count % IPv4Packet.fragmentOffsetUnit != 0) {
            drop(.reassemblyInvalidFragment)
            return .dropped
        }
        if end > IPv4Packet.maximumTotalLength - IPv4Packet.minimumHeaderLength {
            discard(key, now: now, drop: drop)
            drop(.reassemblyTooLarge)
            return .dropped
        }

        // 2. Find or create the datagram.
        if datagrams[key] == nil {
            makeRoom(excluding: key, now: now, drop: drop)
            datagrams[key] = Datagram(deadline: now + configuration.timeout, sequence: nextSequence)
            nextSequence += 1
        }
        // Force unwrap: the entry exists, found or just created above.
        var datagram = datagrams[key]!
        if datagram.discarded {
            drop(.reassemblyDiscardedDatagram)
            return .dropped
        }

        // 3. Reject overlaps and inconsistent lengths; ignore exact duplicates.
        if let index = datagram.received.firstIndex(where: { $0.overlaps(start..<end) }) {
            let existing = datagram.received[index]
            if existing == start..<end && datagram.buffer[start..<end].elementsEqual(payload) {
                drop(.reassemblyDuplicateFragment)
                return .incomplete
            }
            discard(key, now: now, drop: drop)
            drop(.reassemblyOverlap)
            return .dropped
        }
        let lastEnd = datagram.received.last?.upperBound ?? 0
        let inconsistent = repr.moreFragments
            ? datagram.totalLength.map { end > $0 } ?? false
            : (datagram.totalLength != nil || lastEnd > end)
        if inconsistent || datagram.received.count >= configuration.maximumFragmentsPerDatagram {
            discard(key, now: now, drop: drop)
            drop(.reassemblyInvalidFragment)
            return .dropped
        }

        // 4. Make room for the buffer to grow to `end`.
        let growth = max(0, end - datagram.buffer.count)
        if bufferedBytes + growth > configuration.maximumBytes {
            evictOldest(excluding: key, toFree: bufferedBytes + growth - configuration.maximumBytes, drop: drop)
            if bufferedBytes + growth > configuration.maximumBytes {
                discard(key, now: now, drop: drop)
                drop(.reassemblyMemoryLimit)
                return .dropped
            }
        }

        // 5. Store the fragment.
        datagrams[key] = nil  // Keeps `datagram.buffer` uniquely referenced while it grows.
        if growth > 0 { datagram.buffer.append(contentsOf: repeatElement(0, count: growth)) }
        bufferedBytes += growth
        datagram.buffer.withUnsafeMutableBytes { buffer in
            UnsafeMutableRawBufferPointer(rebasing: buffer[start..<end]).copyMemory(from: payload)
        }
        let insertAt = datagram.received.firstIndex(where: { $0.lowerBound > start }) ?? datagram.received.count
        datagram.received.insert(start..<end, at: insertAt)
        datagram.receivedBytes += payload.count
        if !repr.moreFragments { datagram.totalLength = end }
        if start == 0 {
            datagram.firstHeader = repr
            datagram.quote = Array(header) + Array(payload.prefix(Self.quotedPayloadLength))
        }

        // 6. Deliver when every octet up to the last fragment's end has arrived.
        guard let totalLength = datagram.totalLength, datagram.receivedBytes == totalLength,
              var header = datagram.firstHeader else {
            datagrams[key] = datagram
            return .incomplete
        }
        bufferedBytes -= datagram.buffer.count
        header.moreFragments = false
        header.fragmentOffset = 0
        header.payloadLength = totalLength
        return .complete(header, datagram.buffer, quote: datagram.quote)
    }

    /// Removes datagrams past their deadline. For each one whose fragment
    /// zero arrived (and that was not discarded), passes that fragment's
    /// header and quote to `timeExceeded`, so the caller can send ICMP time
    /// exceeded (RFC 792, RFC 1122 §3.3.2).
    public mutating func poll(now: Instant, timeExceeded: (IPv4Repr, [UInt8]) -> Void,
                              drop: (DropReason) -> Void) {
        var expired: [(key: Key, datagram: Datagram)] = []
        for (key, datagram) in datagrams where datagram.deadline <= now {
            expired.append((key, datagram))
        }
        guard !expired.isEmpty else { return }
        for (key, datagram) in expired.sorted(by: { $0.datagram.sequence < $1.datagram.sequence }) {
            remove(key)
            guard !datagram.discarded else { continue }
            drop(.reassemblyTimeout)
            if let first = datagram.firstHeader { timeExceeded(first, datagram.quote) }
        }
    }

    public var nextDeadline: Instant? {
        var earliest: Instant?
        for datagram in datagrams.values where earliest.map({ datagram.deadline < $0 }) ?? true {
            earliest = datagram.deadline
        }
        return earliest
    }

    /// Frees a datagram's buffer but remembers its key until the deadline,
    /// so its remaining fragments are dropped too.
    private mutating func discard(_ key: Key, now: Instant, drop: (DropReason) -> Void) {
        if let datagram = datagrams[key] {
            bufferedBytes -= datagram.buffer.count
            datagrams[key] = Datagram(deadline: datagram.deadline, sequence: datagram.sequence, discarded: true)
        } else {
            // A remembered key counts against `maximumDatagrams` like any other.
            makeRoom(excluding: key, now: now, drop: drop)
            datagrams[key] = Datagram(deadline: now + configuration.timeout, sequence: nextSequence, discarded: true)
            nextSequence += 1
        }
    }

    private mutating func remove(_ key: Key) {
        if let datagram = datagrams.removeValue(forKey: key) { bufferedBytes -= datagram.buffer.count }
    }

    private mutating func makeRoom(excluding key: Key, now: Instant, drop: (DropReason) -> Void) {
        while datagrams.count >= configuration.maximumDatagrams, let oldest = oldestKey(excluding: key) {
            if !(datagrams[oldest]?.discarded ?? true) { drop(.reassemblyEvicted) }
            remove(oldest)
        }
    }

    private mutating func evictOldest(excluding key: Key, toFree needed: Int, drop: (DropReason) -> Void) {
        var freed = 0
        while freed < needed, let oldest = oldestKey(excluding: key, withBuffer: true) {
            freed += datagrams[oldest]?.buffer.count ?? 0
            drop(.reassemblyEvicted)
            remove(oldest)
        }
    }

    private func oldestKey(excluding key: Key, withBuffer: Bool = false) -> Key? {
        datagrams.filter { $0.key != key && (!withBuffer || !$0.value.buffer.isEmpty) }
            .min { $0.value.sequence < $1.value.sequence }?.key
    }
}
