/// The out-of-order ranges held in a receive buffer past RCV.NXT, and the
/// SACK blocks they produce (RFC 2018 §4).
///
/// The data itself sits in the receive ring at its final offset, so holding
/// it costs no memory beyond the window already promised. The number of
/// ranges is bounded; a segment that would open one more is dropped.
struct TCPAssembler {
    struct Range {
        var left: TCPSeq
        var right: TCPSeq
        /// Larger is more recent; RFC 2018 §4 puts the newest block first.
        var lastUpdate: UInt64
    }

    /// Sorted by `left`, disjoint and not adjacent.
    private(set) var ranges: [Range] = []
    private var clock: UInt64 = 0
    let maximumRanges: Int

    init(maximumRanges: Int) { self.maximumRanges = maximumRanges }

    var isEmpty: Bool { ranges.isEmpty }

    /// Bytes held out of order.
    var heldBytes: Int { ranges.reduce(0) { $0 + ($1.right - $1.left) } }

    /// Records `left..<right` (strictly past RCV.NXT). Returns false when it
    /// would need a new range past the bound; nothing changes then.
    mutating func insert(left: TCPSeq, right: TCPSeq) -> Bool {
        clock += 1
        var newLeft = left
        var newRight = right
        var firstOverlap: Int?
        var lastOverlap = -1
        for (i, range) in ranges.enumerated() where range.right >= left && range.left <= right {
            if firstOverlap == nil { firstOverlap = i }
            lastOverlap = i
            newLeft = TCPSeq.min(newLeft, range.left)
            newRight = TCPSeq.max(newRight, range.right)
        }
        let merged = Range(left: newLeft, right: newRight, lastUpdate: clock)
        if let first = firstOverlap {
            ranges.replaceSubrange(first...lastOverlap, with: [merged])
            return true
        }
        guard ranges.count < maximumRanges else { return false }
        let index = ranges.firstIndex { $0.left > left } ?? ranges.count
        ranges.insert(merged, at: index)
        return true
    }

    /// Removes ranges reached by RCV.NXT and returns the new RCV.NXT.
    mutating func advance(receiveNext: TCPSeq) -> TCPSeq {
        var next = receiveNext
        while let first = ranges.first, first.left <= next {
            next = TCPSeq.max(next, first.right)
            ranges.removeFirst()
        }
        return next
    }

    /// Up to `limit` SACK blocks, most recently changed first.
    func sackBlocks(limit: Int) -> [TCPSackBlock] {
        guard !ranges.isEmpty, limit > 0 else { return [] }
        return ranges.sorted { $0.lastUpdate > $1.lastUpdate }.prefix(limit)
            .map { TCPSackBlock(left: $0.left, right: $0.right) }
    }

    mutating func removeAll() { ranges.removeAll() }
}
