import CapnetBase
import NIC

/// The ARP translation table (RFC 826) with its timers and the frames waiting
/// for an address to resolve. Sans-IO: the interface passes time in, sends
/// the requests this type reports, and transmits or releases the frames it
/// hands back. It never reads packet bytes.
public struct ARPCache {
    public struct Configuration: Sendable {
        /// How long a resolved mapping is used before it is checked again.
        /// RFC 1122 §2.3.2.1 requires a timeout; Linux marks entries stale
        /// after 15–45 s (`base_reachable_time` 30 s) and 60 s is chosen here.
        /// A mapping used in that time stays in use while ARP requests
        /// refresh it (RFC 1122 §2.3.2.1 allows this kind of polling), so busy
        /// traffic does not wait for a new resolution. An unused one is removed.
        public var entryLifetime: Nanoseconds = .seconds(60)
        /// Entries in the table, resolved and incomplete together. When full, the
        /// resolved entry closest to expiry makes room; with none, resolution fails.
        public var maximumEntries = 256
        /// Frames waiting for one address. Linux's `unres_qlen_bytes` default
        /// fits about 100 small frames. With 16, a 64 KiB datagram's 45
        /// fragments at MTU 1500 do not all fit, so part of such a burst is dropped.
        public var maximumPendingPerAddress = 16
        /// Frames waiting for any address, which bounds the frame pool slots held.
        public var maximumPendingTotal = 64
        /// RFC 1122 §2.3.2.1: at most one request per second to one address.
        public var requestInterval: Nanoseconds = .seconds(1)
        /// Requests sent before resolution fails (Linux `mcast_solicit` is 3).
        public var maximumRequests = 3

        public init() {}
    }

    /// The reason `enqueue` did not take a frame. The caller releases the frame and counts the reason.
    public enum EnqueueFailure: Error, Sendable, Equatable {
        case pendingQueueFull
        case tableFull
    }

    enum State {
        /// `used` records a lookup since the mapping was learned.
        case resolved(MACAddress, expires: Instant, used: Bool)
        /// Expired while in use: still used while requests ask for it again.
        case refreshing(MACAddress, requestsSent: Int, nextRequest: Instant)
        case incomplete(requestsSent: Int, nextRequest: Instant, pending: [Frame])
    }

    public let configuration: Configuration
    var entries: [IPv4Address: State] = [:]
    public private(set) var pendingCount = 0

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    public var count: Int { entries.count }

    /// Returns the hardware address for `address` while its entry is
    /// resolved and not expired, or being refreshed, and marks it used.
    public mutating func lookup(_ address: IPv4Address, now: Instant) -> MACAddress? {
        switch entries[address] {
        case .resolved(let hardwareAddress, let expires, let used)? where now < expires:
            if !used { entries[address] = .resolved(hardwareAddress, expires: expires, used: true) }
            return hardwareAddress
        case .refreshing(let hardwareAddress, _, _)?:
            return hardwareAddress
        default:
            return nil
        }
    }

    /// Queues `frame` until `address` resolves. Returns true when the caller
    /// must send the first ARP request now (a new or expired entry).
    public mutating func enqueue(_ frame: Frame, for address: IPv4Address, now: Instant) throws(EnqueueFailure) -> Bool {
        guard pendingCount < configuration.maximumPendingTotal else { throw .pendingQueueFull }

        if case .incomplete(let requestsSent, let nextRequest, var pending)? = entries[address] {
            guard pending.count < configuration.maximumPendingPerAddress else { throw .pendingQueueFull }
            entries[address] = nil
            pending.append(frame)
            entries[address] = .incomplete(requestsSent: requestsSent, nextRequest: nextRequest, pending: pending)
            pendingCount += 1
            return false
        }

        // No entry, or a resolved one that expired: start resolving.
        if entries[address] == nil {
            guard makeRoom(now: now) else { throw .tableFull }
        }
        entries[address] = .incomplete(requestsSent: 1, nextRequest: now + configuration.requestInterval,
                                       pending: [frame])
        pendingCount += 1
        return true
    }

    /// RFC 826's merge step: when `address` is already in the table, stores
    /// its new hardware address and returns the frames that were waiting for
    /// it (the caller sets their destination and transmits them). Returns nil
    /// when there is no entry, so the caller leaves the merge flag false.
    public mutating func merge(_ address: IPv4Address, hardwareAddress: MACAddress, now: Instant) -> [Frame]? {
        guard let state = entries[address] else { return nil }
        entries[address] = .resolved(hardwareAddress, expires: now + configuration.entryLifetime, used: false)
        guard case .incomplete(_, _, let pending) = state else { return [] }
        pendingCount -= pending.count
        return pending
    }

    /// Adds a mapping for an address not in the table (RFC 826: only when we
    /// are the target). Returns false when the table is full of incomplete entries.
    @discardableResult
    public mutating func insert(_ address: IPv4Address, hardwareAddress: MACAddress, now: Instant) -> Bool {
        if entries[address] == nil {
            guard makeRoom(now: now) else { return false }
        }
        entries[address] = .resolved(hardwareAddress, expires: now + configuration.entryLifetime, used: false)
        return true
    }

    /// Runs the timers: retransmits requests through `sendRequest`, and when
    /// an address does not resolve after `maximumRequests` requests, removes
    /// it and passes its waiting frames to `dropFrame`. An expired mapping
    /// that was used is refreshed with requests and removed when no reply
    /// arrives. An unused one is removed at once.
    public mutating func poll(now: Instant, sendRequest: (IPv4Address) -> Void, dropFrame: (Frame) -> Void) {
        var due: [IPv4Address] = []
        for (address, state) in entries {
            switch state {
            case .resolved(_, let expires, _) where expires <= now: due.append(address)
            case .refreshing(_, _, let nextRequest) where nextRequest <= now: due.append(address)
            case .incomplete(_, let nextRequest, _) where nextRequest <= now: due.append(address)
            default: break
            }
        }
        for address in due {
            switch entries[address] {
            case .resolved(let hardwareAddress, _, let used)?:
                if used {
                    entries[address] = .refreshing(hardwareAddress, requestsSent: 1,
                                                   nextRequest: now + configuration.requestInterval)
                    sendRequest(address)
                } else {
                    entries[address] = nil
                }
            case .refreshing(_, let requestsSent, _)? where requestsSent >= configuration.maximumRequests:
                entries[address] = nil
            case .refreshing(let hardwareAddress, let requestsSent, _)?:
                entries[address] = .refreshing(hardwareAddress, requestsSent: requestsSent + 1,
                                               nextRequest: now + configuration.requestInterval)
                sendRequest(address)
            case .incomplete(let requestsSent, _, let pending)? where requestsSent >= configuration.maximumRequests:
                entries[address] = nil
                pendingCount -= pending.count
                pending.forEach(dropFrame)
            case .incomplete(let requestsSent, _, let pending)?:
                entries[address] = .incomplete(requestsSent: requestsSent + 1,
                                               nextRequest: now + configuration.requestInterval, pending: pending)
                sendRequest(address)
            case nil:
                break
            }
        }
    }

    /// The earliest expiry or retransmission, or nil with an empty table.
    public var nextDeadline: Instant? {
        var earliest: Instant?
        for state in entries.values {
            let deadline: Instant
            switch state {
            case .resolved(_, let expires, _): deadline = expires
            case .refreshing(_, _, let nextRequest): deadline = nextRequest
            case .incomplete(_, let nextRequest, _): deadline = nextRequest
            }
            if earliest == nil || deadline < earliest! { earliest = deadline }
        }
        return earliest
    }

    /// Removes every entry and passes every waiting frame to `dropFrame`.
    public mutating func removeAll(dropFrame: (Frame) -> Void) {
        for case .incomplete(_, _, let pending) in entries.values { pending.forEach(dropFrame) }
        entries.removeAll()
        pendingCount = 0
    }

    /// Returns the table for display, sorted by address.
    public func snapshot(now: Instant) -> [ARPTableEntry] {
        entries.map { address, state in
            switch state {
            case .resolved(let hardwareAddress, let expires, _):
                ARPTableEntry(address: address, hardwareAddress: hardwareAddress, state: .resolved,
                              expiresIn: expires - now, pendingFrames: 0)
            case .refreshing(let hardwareAddress, _, let nextRequest):
                ARPTableEntry(address: address, hardwareAddress: hardwareAddress, state: .resolved,
                              expiresIn: nextRequest - now, pendingFrames: 0)
            case .incomplete(let requestsSent, let nextRequest, let pending):
                ARPTableEntry(address: address, hardwareAddress: nil, state: .incomplete(requestsSent: requestsSent),
                              expiresIn: nextRequest - now, pendingFrames: pending.count)
            }
        }.sorted { $0.address < $1.address }
    }

    /// Frees one entry when the table is full by removing the resolved entry
    /// closest to expiry. Returns false when every entry is incomplete.
    private mutating func makeRoom(now: Instant) -> Bool {
        guard entries.count >= configuration.maximumEntries else { return true }
        var victim: (address: IPv4Address, expires: Instant)?
        for (address, state) in entries {
            if case .resolved(_, let expires, _) = state, victim == nil || expires < victim!.expires {
                victim = (address, expires)
            }
        }
        guard let victim else { return false }
        entries[victim.address] = nil
        return true
    }
}

/// One row of the ARP table as shown in the Web UI.
public struct ARPTableEntry: Hashable, Sendable {
    public enum State: Hashable, Sendable {
        case resolved
        /// Waiting for a reply after `requestsSent` requests.
        case incomplete(requestsSent: Int)
    }

    public var address: IPv4Address
    public var hardwareAddress: MACAddress?
    public var state: State
    /// Time until the mapping expires (resolved) or until the next request (incomplete).
    public var expiresIn: Nanoseconds
    public var pendingFrames: Int

    public init(address: IPv4Address, hardwareAddress: MACAddress?, state: State, expiresIn: Nanoseconds,
                pendingFrames: Int) {
        self.address = address
        self.hardwareAddress = hardwareAddress
        self.state = state
        self.expiresIn = expiresIn
        self.pendingFrames = pendingFrames
    }
}
