/// The sender's record of SACKed data (RFC 6675 §3), used during loss
/// recovery to compute `pipe` and choose what to retransmit.
struct TCPSackScoreboard {
    /// RFC 6675 §2: DupThresh = 3.
    static let duplicateThreshold = 3
    /// Ranges kept; older blocks beyond this are forgotten (they are only hints).
    static let maximumRanges = 32

    /// SACKed ranges above SND.UNA, sorted, disjoint.
    private(set) var ranges: [(left: TCPSeq, right: TCPSeq)] = []
    /// RFC 6675 §2 HighRxt: the highest sequence number retransmitted in this recovery.
    var highRetransmitted: TCPSeq?

    var isEmpty: Bool { ranges.isEmpty }

    /// Adds the valid blocks of an ACK (RFC 6675 §5 step 1) and drops
    /// everything below SND.UNA. Returns whether a block added SACKed data.
    @discardableResult
    mutating func update(blocks: [TCPSackBlock], sendUnacknowledged: TCPSeq, sendMax: TCPSeq) -> Bool {
        var changed = false
        for block in blocks {
            // Only blocks inside (SND.UNA, SND.MAX] are trusted.
            guard block.left < block.right, block.left >= sendUnacknowledged, block.right <= sendMax else { continue }
            changed = insert(left: block.left, right: block.right) || changed
        }
        prune(below: sendUnacknowledged)
        return changed
    }

    private mutating func insert(left: TCPSeq, right: TCPSeq) -> Bool {
        var newLeft = left
        var newRight = right
        var added = true
        var kept: [(left: TCPSeq, right: TCPSeq)] = []
        kept.reserveCapacity(ranges.count + 1)
        for range in ranges {
            if range.right < newLeft || range.left > newRight {
                kept.append(range)
            } else {
                if range.left <= left && range.right >= right { added = false }
                newLeft = TCPSeq.min(newLeft, range.left)
                newRight = TCPSeq.max(newRight, range.right)
            }
        }
        let index = kept.firstIndex { $0.left > newLeft } ?? kept.count
        kept.insert((newLeft, newRight), at: index)
        if kept.count > Self.maximumRanges { kept.removeLast() }
        ranges = kept
        return added
    }

    mutating func prune(below sequence: TCPSeq) {
        ranges = ranges.compactMap { range in
            if range.right <= sequence { return nil }
            return (TCPSeq.max(range.left, sequence), range.right)
        }
    }

    mutating func reset() {
        ranges.removeAll()
        highRetransmitted = nil
    }

    func isSacked(_ sequence: TCPSeq) -> Bool {
        ranges.contains { sequence.isIn($0.left, $0.right) }
    }

    /// Returns the highest sequence number below which every un-SACKed byte counts as
    /// lost under RFC 6675 §4 IsLost: DupThresh discontiguous ranges, or more
    /// than (DupThresh - 1) * SMSS bytes, SACKed above it. Nil when no byte is lost.
    func lossBoundary(mss: Int) -> TCPSeq? {
        var bytes = 0
        var count = 0
        for range in ranges.reversed() {
            bytes += range.right - range.left
            count += 1
            if count >= Self.duplicateThreshold || bytes > (Self.duplicateThreshold - 1) * mss {
                return range.left
            }
        }
        return nil
    }

    /// Un-SACKed bytes in `low..<high`.
    func unsackedBytes(from low: TCPSeq, to high: TCPSeq) -> Int {
        guard low < high else { return 0 }
        var total = high - low
        for range in ranges {
            let left = TCPSeq.max(range.left, low)
            let right = TCPSeq.min(range.right, high)
            if left < right { total -= right - left }
        }
        return total
    }

    /// RFC 6675 §4 SetPipe: octets not SACKed and not lost, plus octets retransmitted.
    func pipe(sendUnacknowledged: TCPSeq, sendMax: TCPSeq, mss: Int) -> Int {
        let boundary = TCPSeq.max(lossBoundary(mss: mss) ?? sendUnacknowledged, sendUnacknowledged)
        var total = unsackedBytes(from: boundary, to: sendMax)
        if let high = highRetransmitted {
            total += unsackedBytes(from: sendUnacknowledged, to: TCPSeq.min(high, sendMax))
        }
        return total
    }

    /// RFC 6675 §4 NextSeg rule 1: the first lost, un-SACKed range above
    /// HighRxt, at most `mss` bytes long.
    func nextLostSegment(sendUnacknowledged: TCPSeq, mss: Int) -> (TCPSeq, Int)? {
        guard let boundary = lossBoundary(mss: mss) else { return nil }
        var start = TCPSeq.max(sendUnacknowledged, highRetransmitted ?? sendUnacknowledged)
        for range in ranges {
            if start >= boundary { return nil }
            if start < range.left {
                let end = TCPSeq.min(range.left, boundary)
                return (start, min(end - start, mss))
            }
            start = TCPSeq.max(start, range.right)
        }
        return nil
    }

    /// The highest SACKed sequence number, for RFC 6675 rule 3.
    var highestSacked: TCPSeq? { ranges.last?.right }
}
