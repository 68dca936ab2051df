/// A log-linear histogram of non-negative integer values (nanoseconds here),
/// in the style of HdrHistogram: bounded memory and a bounded relative error.
///
/// Values below `2^precisionBits` are stored exactly. Each larger power-of-two
/// range `[2^e, 2^(e+1))` is split into `2^precisionBits` equal buckets, so a
/// bucket is at most `2^-precisionBits` of its lowest value wide. A reported
/// percentile is the midpoint of the bucket that contains it, so it is within
/// `2^-(precisionBits+1)` of the exact value, relative to that value.
struct LatencyHistogram: Sendable, Equatable {
    /// Sub-bucket bits: 7 gives 128 buckets per power of two and a relative
    /// error of at most 1/256 (0.4 %) for a reported percentile.
    static let precisionBits = 7
    /// Values at or above `2^maximumValueBits` (about 1,100 seconds in
    /// nanoseconds) are counted in the top bucket and in `saturatedCount`.
    static let maximumValueBits = 40

    static let subBucketCount = 1 << precisionBits
    static let bucketCount = (maximumValueBits - precisionBits + 1) * subBucketCount
    static let maximumTrackableValue: Int64 = (1 << Int64(maximumValueBits)) - 1

    private(set) var counts: [UInt64]
    private(set) var totalCount: UInt64 = 0
    /// Exact smallest and largest recorded values; `max` is reported exactly.
    private(set) var minimum: Int64 = .max
    private(set) var maximum: Int64 = 0
    /// Sum of recorded values, for the mean.
    private(set) var sum: Double = 0
    /// Values that were larger than `maximumTrackableValue`.
    private(set) var saturatedCount: UInt64 = 0

    init() {
        counts = [UInt64](repeating: 0, count: Self.bucketCount)
    }

    var isEmpty: Bool { totalCount == 0 }

    /// Records one value; negative values count as zero.
    mutating func record(_ value: Int64) {
        var clamped = max(value, 0)
        if clamped > Self.maximumTrackableValue {
            saturatedCount += 1
            clamped = Self.maximumTrackableValue
        }
        counts[Self.bucketIndex(of: clamped)] += 1
        totalCount += 1
        minimum = min(minimum, clamped)
        maximum = max(maximum, clamped)
        sum += Double(clamped)
    }

    /// Adds every count of `other`, as when workers' results are combined.
    mutating func merge(_ other: LatencyHistogram) {
        guard !other.isEmpty else { return }
        for index in counts.indices { counts[index] += other.counts[index] }
        totalCount += other.totalCount
        minimum = min(minimum, other.minimum)
        maximum = max(maximum, other.maximum)
        sum += other.sum
        saturatedCount += other.saturatedCount
    }

    /// Returns the value at `percentile` (0 < percentile <= 100) by the nearest-rank
    /// method: the smallest recorded value with at least that share of values
    /// at or below it. Returns nil when the histogram is empty.
    func value(atPercentile percentile: Double) -> Int64? {
        guard totalCount > 0 else { return nil }
        let share = min(max(percentile, 0), 100) / 100
        let rank = max(UInt64((share * Double(totalCount)).rounded(.up)), 1)
        // The top rank is the largest value, which is kept exactly.
        if rank >= totalCount { return maximum }

        var cumulative: UInt64 = 0
        for (index, count) in counts.enumerated() where count > 0 {
            cumulative += count
            if cumulative >= rank {
                let estimate = Self.representativeValue(ofBucket: index)
                return min(max(estimate, minimum), maximum)
            }
        }
        return maximum
    }

    var mean: Double? { totalCount > 0 ? sum / Double(totalCount) : nil }

    // MARK: Bucket arithmetic

    /// Maps a value in `0...maximumTrackableValue` to its bucket.
    static func bucketIndex(of value: Int64) -> Int {
        if value < Int64(subBucketCount) { return Int(value) }
        let exponent = 63 - value.leadingZeroBitCount
        let shift = exponent - precisionBits
        let subBucket = Int(value >> Int64(shift)) - subBucketCount
        return (shift + 1) * subBucketCount + subBucket
    }

    /// Returns the lowest and highest value that fall into bucket `index`.
    static func valueRange(ofBucket index: Int) -> ClosedRange<Int64> {
        if index < subBucketCount { return Int64(index)...Int64(index) }
        let shift = index / subBucketCount - 1
        let subBucket = index % subBucketCount
        let low = Int64(subBucketCount + subBucket) << Int64(shift)
        let high = low + (Int64(1) << Int64(shift)) - 1
        return low...high
    }

    /// Returns the midpoint of bucket `index`, which a percentile reports.
    static func representativeValue(ofBucket index: Int) -> Int64 {
        let range = valueRange(ofBucket: index)
        return range.lowerBound + (range.upperBound - range.lowerBound) / 2
    }
}
