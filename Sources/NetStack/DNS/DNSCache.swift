import CapnetBase

/// A bounded cache of successful A lookups, keyed by name without regard to
/// case. Entries expire after their TTL (RFC 1035 §3.2.1), capped at
/// `maximumTimeToLive`. Failures are not cached.
// NOTE: negative answers (NXDOMAIN, no A record) are not cached, although
// RFC 2308 allows it, so a repeated lookup of a missing name asks the server again.
public struct DNSCache: Sendable {
    public struct Configuration: Hashable, Sendable {
        /// Names stored at once. When the cache is full, an insertion first
        /// drops expired entries and then the entry that expires soonest.
        public var capacity = 64
        /// The maximum time an entry is kept in seconds, whatever TTL the
        /// server gave. With one hour, a changed address is picked up within an hour.
        public var maximumTimeToLive: UInt32 = 3600

        public init() {}
    }

    private struct Entry: Sendable {
        var addresses: [IPv4Address]
        var expiry: Instant
    }

    public let configuration: Configuration
    private var entries: [DNSName: Entry] = [:]

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    public var count: Int { entries.count }

    /// Returns the cached addresses of `name`, or nil when there are none or
    /// they have expired at `now`.
    public mutating func lookup(_ name: DNSName, now: Instant) -> [IPv4Address]? {
        let key = name.canonical
        guard let entry = entries[key] else { return nil }
        guard now < entry.expiry else {
            entries[key] = nil
            return nil
        }
        return entry.addresses
    }

    /// Stores `addresses` for `timeToLive` seconds from `now`. A TTL of 0
    /// means the answer must not be cached (RFC 1035 §3.2.1), so nothing is stored.
    public mutating func insert(_ name: DNSName, addresses: [IPv4Address], timeToLive: UInt32, now: Instant) {
        let seconds = min(timeToLive, configuration.maximumTimeToLive)
        guard seconds > 0, configuration.capacity > 0 else { return }
        let key = name.canonical

        if entries[key] == nil, entries.count >= configuration.capacity {
            entries = entries.filter { now < $0.value.expiry }
            if entries.count >= configuration.capacity,
               let soonest = entries.min(by: { $0.value.expiry < $1.value.expiry })?.key {
                entries[soonest] = nil
            }
        }
        entries[key] = Entry(addresses: addresses, expiry: now + .seconds(Int64(seconds)))
    }

    public mutating func removeAll() {
        entries.removeAll()
    }
}
