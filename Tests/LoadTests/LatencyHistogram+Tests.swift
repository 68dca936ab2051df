import CapnetBase
import Foundation
import Testing
@testable import capnet_load

@Suite struct LatencyHistogramTests {
    /// Exact percentile by the nearest-rank method, from sorted data.
    static func nearestRank(_ sorted: [Int64], _ percentile: Double) -> Int64 {
        let rank = Int((percentile / 100 * Double(sorted.count)).rounded(.up))
        return sorted[max(rank, 1) - 1]
    }

    @Test func smallValuesAreExact() {
        var histogram = LatencyHistogram()
        for value in Int64(1)...100 { histogram.record(value) }

        // Nearest rank over 1...100: the p-th percentile is p itself.
        #expect(histogram.value(atPercentile: 50) == 50)
        #expect(histogram.value(atPercentile: 90) == 90)
        #expect(histogram.value(atPercentile: 99) == 99)
        #expect(histogram.value(atPercentile: 100) == 100)
        #expect(histogram.maximum == 100)
        #expect(histogram.minimum == 1)
        #expect(histogram.totalCount == 100)
        #expect(histogram.mean == 50.5)
    }

    @Test func percentilesWithinRelativeError() {
        // Log-uniform values from 1 microsecond to 1 second, in nanoseconds.
        var random = SeededRandom(seed: 2026)
        var values: [Int64] = []
        var histogram = LatencyHistogram()
        for _ in 0..<50_000 {
            let exponent = 3 + 6 * Double(random.next() % 1_000_000) / 1_000_000
            let value = Int64(pow(10, exponent))
            values.append(value)
            histogram.record(value)
        }
        values.sort()

        let bound = 1.0 / Double(1 << (LatencyHistogram.precisionBits + 1))
        for percentile in [1.0, 25, 50, 75, 90, 99, 99.9, 99.99] {
            let exact = Self.nearestRank(values, percentile)
            let estimate = histogram.value(atPercentile: percentile) ?? -1
            let error = abs(Double(estimate - exact)) / Double(exact)
            #expect(error <= bound, "p\(percentile): exact \(exact), estimate \(estimate)")
        }
        #expect(histogram.maximum == values.last)
        #expect(histogram.minimum == values.first)
    }

    @Test func bucketsTileTheRange() {
        var expectedLow: Int64 = 0
        for index in 0..<LatencyHistogram.bucketCount {
            let range = LatencyHistogram.valueRange(ofBucket: index)
            #expect(range.lowerBound == expectedLow, "bucket \(index)")
            #expect(LatencyHistogram.bucketIndex(of: range.lowerBound) == index)
            #expect(LatencyHistogram.bucketIndex(of: range.upperBound) == index)
            let width = Double(range.upperBound - range.lowerBound + 1)
            // Exact buckets have width 1; the others are at most 1/128 of their lowest value wide.
            if width > 1 {
                #expect(width / Double(range.lowerBound) <= 1.0 / Double(LatencyHistogram.subBucketCount))
            }
            expectedLow = range.upperBound + 1
        }
        #expect(expectedLow == LatencyHistogram.maximumTrackableValue + 1)
    }

    @Test func mergeMatchesSingleHistogram() {
        var random = SeededRandom(seed: 7)
        var combined = LatencyHistogram()
        var first = LatencyHistogram()
        var second = LatencyHistogram()
        for index in 0..<10_000 {
            let value = Int64(random.next() % 5_000_000_000)
            combined.record(value)
            if index % 3 == 0 { first.record(value) } else { second.record(value) }
        }
        first.merge(second)
        #expect(first.counts == combined.counts)
        #expect(first.totalCount == combined.totalCount)
        #expect(first.maximum == combined.maximum)
        #expect(first.minimum == combined.minimum)
    }

    @Test func emptyAndSaturated() {
        var histogram = LatencyHistogram()
        #expect(histogram.value(atPercentile: 50) == nil)
        #expect(histogram.mean == nil)

        histogram.record(LatencyHistogram.maximumTrackableValue + 12_345)
        histogram.record(-5)
        #expect(histogram.saturatedCount == 1)
        #expect(histogram.maximum == LatencyHistogram.maximumTrackableValue)
        #expect(histogram.minimum == 0)
        #expect(histogram.value(atPercentile: 100) == LatencyHistogram.maximumTrackableValue)
    }
}
