import CapnetBase
import NIC
import Testing
@testable import NetStack

@Suite struct ARPCacheTests {
    static let start = Instant(nanoseconds: 1_000_000_000)
    static let host = IPv4Address(192, 0, 2, 10)
    static let otherHost = IPv4Address(192, 0, 2, 11)
    static let mac = MACAddress(0x02, 0, 0, 0, 0, 0x10)

    static func frame(_ slot: Int32) -> Frame { Frame(slot: slot, length: 60) }

    static func cache(_ configure: (inout ARPCache.Configuration) -> Void = { _ in }) -> ARPCache {
        var configuration = ARPCache.Configuration()
        configure(&configuration)
        return ARPCache(configuration: configuration)
    }

    @Test func unusedEntryExpiresAfterLifetime() {
        var cache = Self.cache { $0.entryLifetime = .seconds(60) }
        cache.insert(Self.host, hardwareAddress: Self.mac, now: Self.start)
        #expect(cache.lookup(Self.host, now: Self.start + .seconds(60)) == nil)
        cache.poll(now: Self.start + .seconds(60), sendRequest: { _ in Issue.record("no request expected") },
                   dropFrame: { _ in Issue.record("no frame expected") })
        #expect(cache.count == 0)
    }

    /// A mapping in use stays usable past its lifetime while requests
    /// refresh it (RFC 1122 §2.3.2.1 polling), so traffic never queues.
    @Test func usedEntryIsRefreshedWithoutGap() {
        var cache = Self.cache { $0.entryLifetime = .seconds(60) }
        cache.insert(Self.host, hardwareAddress: Self.mac, now: Self.start)
        #expect(cache.lookup(Self.host, now: Self.start + .seconds(30)) == Self.mac)
        var requests: [IPv4Address] = []
        cache.poll(now: Self.start + .seconds(60), sendRequest: { requests.append($0) },
                   dropFrame: { _ in Issue.record("no frame expected") })
        #expect(requests == [Self.host])
        #expect(cache.lookup(Self.host, now: Self.start + .seconds(60)) == Self.mac)
        // The reply renews the mapping for another lifetime.
        #expect(cache.merge(Self.host, hardwareAddress: Self.mac, now: Self.start + .seconds(60)) == [])
        #expect(cache.nextDeadline == Self.start + .seconds(120))
    }

    @Test func refreshWithoutReplyRemovesEntry() {
        var cache = Self.cache { $0.entryLifetime = .seconds(60) }
        cache.insert(Self.host, hardwareAddress: Self.mac, now: Self.start)
        _ = cache.lookup(Self.host, now: Self.start)
        var requests = 0
        for second in 60...63 {
            cache.poll(now: Self.start + .seconds(Int64(second)), sendRequest: { _ in requests += 1 },
                       dropFrame: { _ in Issue.record("no frame expected") })
        }
        // RFC 1122 §2.3.2.1: at most one request per second, three in all.
        #expect(requests == 3)
        #expect(cache.count == 0)
        #expect(cache.lookup(Self.host, now: Self.start + .seconds(63)) == nil)
    }

    @Test func mergeNeedsExistingEntry() {
        var cache = Self.cache()
        #expect(cache.merge(Self.host, hardwareAddress: Self.mac, now: Self.start) == nil)
        #expect(cache.count == 0)
        cache.insert(Self.host, hardwareAddress: Self.mac, now: Self.start)
        let newMAC = MACAddress(0x02, 0, 0, 0, 0, 0x20)
        #expect(cache.merge(Self.host, hardwareAddress: newMAC, now: Self.start) == [])
        #expect(cache.lookup(Self.host, now: Self.start) == newMAC)
    }

    @Test func firstQueuedFrameStartsResolution() throws {
        var cache = Self.cache()
        let first = try cache.enqueue(Self.frame(1), for: Self.host, now: Self.start)
        let second = try cache.enqueue(Self.frame(2), for: Self.host, now: Self.start)
        #expect(first)
        #expect(!second)
        #expect(cache.pendingCount == 2)
        let released = cache.merge(Self.host, hardwareAddress: Self.mac, now: Self.start)
        #expect(released == [Self.frame(1), Self.frame(2)])
        #expect(cache.pendingCount == 0)
        #expect(cache.lookup(Self.host, now: Self.start) == Self.mac)
    }

    @Test func pendingQueueBoundPerAddress() throws {
        var cache = Self.cache { $0.maximumPendingPerAddress = 2 }
        _ = try cache.enqueue(Self.frame(1), for: Self.host, now: Self.start)
        _ = try cache.enqueue(Self.frame(2), for: Self.host, now: Self.start)
        #expect(throws: ARPCache.EnqueueFailure.pendingQueueFull) {
            try cache.enqueue(Self.frame(3), for: Self.host, now: Self.start)
        }
        let other = try cache.enqueue(Self.frame(4), for: Self.otherHost, now: Self.start)
        #expect(other)
        #expect(cache.pendingCount == 3)
    }

    @Test func pendingQueueBoundInTotal() throws {
        var cache = Self.cache { $0.maximumPendingTotal = 2 }
        _ = try cache.enqueue(Self.frame(1), for: Self.host, now: Self.start)
        _ = try cache.enqueue(Self.frame(2), for: Self.otherHost, now: Self.start)
        #expect(throws: ARPCache.EnqueueFailure.pendingQueueFull) {
            try cache.enqueue(Self.frame(3), for: IPv4Address(192, 0, 2, 12), now: Self.start)
        }
    }

    @Test func requestsRetransmitThenFail() throws {
        var cache = Self.cache {
            $0.requestInterval = .seconds(1)
            $0.maximumRequests = 3
        }
        _ = try cache.enqueue(Self.frame(1), for: Self.host, now: Self.start)
        _ = try cache.enqueue(Self.frame(2), for: Self.host, now: Self.start)
        var requests: [Nanoseconds] = []
        var dropped: [Frame] = []
        for tenths in 1...40 {
            let elapsed = Nanoseconds.milliseconds(Int64(tenths) * 100)
            cache.poll(now: Self.start + elapsed, sendRequest: { _ in requests.append(elapsed) },
                       dropFrame: { dropped.append($0) })
        }
        // The first request went out with the first frame; two more follow, one second apart.
        #expect(requests == [.seconds(1), .seconds(2)])
        #expect(dropped == [Self.frame(1), Self.frame(2)])
        #expect(cache.count == 0)
        #expect(cache.pendingCount == 0)
    }

    @Test func fullTableEvictsResolvedEntry() throws {
        var cache = Self.cache { $0.maximumEntries = 2 }
        cache.insert(Self.host, hardwareAddress: Self.mac, now: Self.start)
        cache.insert(Self.otherHost, hardwareAddress: Self.mac, now: Self.start + .seconds(1))
        let third = IPv4Address(192, 0, 2, 12)
        let inserted = cache.insert(third, hardwareAddress: Self.mac, now: Self.start + .seconds(2))
        #expect(inserted)
        #expect(cache.lookup(Self.host, now: Self.start + .seconds(2)) == nil)
        #expect(cache.lookup(third, now: Self.start + .seconds(2)) == Self.mac)
    }

    @Test func tableOfIncompleteEntriesRejects() throws {
        var cache = Self.cache { $0.maximumEntries = 1 }
        _ = try cache.enqueue(Self.frame(1), for: Self.host, now: Self.start)
        #expect(throws: ARPCache.EnqueueFailure.tableFull) {
            try cache.enqueue(Self.frame(2), for: Self.otherHost, now: Self.start)
        }
        let inserted = cache.insert(Self.otherHost, hardwareAddress: Self.mac, now: Self.start)
        #expect(!inserted)
    }

    @Test func snapshotShowsBothStates() throws {
        var cache = Self.cache()
        cache.insert(Self.host, hardwareAddress: Self.mac, now: Self.start)
        _ = try cache.enqueue(Self.frame(1), for: Self.otherHost, now: Self.start)
        let rows = cache.snapshot(now: Self.start)
        #expect(rows.count == 2)
        #expect(rows[0].address == Self.host)
        #expect(rows[0].state == .resolved)
        #expect(rows[0].hardwareAddress == Self.mac)
        #expect(rows[1].state == .incomplete(requestsSent: 1))
        #expect(rows[1].pendingFrames == 1)
    }
}
