// The dashboard's hand-written formatting: dates and HTML escaping.
import Foundation
import Testing
@testable import WebUI

@Suite struct DashboardFormattingTests {
    /// The RFC 3339 formatter against Foundation's ISO8601DateFormatter,
    /// across leap days, the epoch, negative times and fractions.
    @Test func dateMatchesFoundation() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        var samples: [TimeInterval] = [0, -1, -86_400.5, 951_782_400, 951_868_799.999, 1_709_164_800,
                                       1_798_761_599, 4_107_542_400, 253_402_300_799]
        for step in 0..<400 { samples.append(Double(step) * 7_919_113.37 - 1_000_000_000) }
        for seconds in samples {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(DashboardPage.date(date) == formatter.string(from: date), "\(seconds)")
        }
    }

    @Test func escapeKeepsOtherText() {
        #expect(HTML.escape("plain ünïcode 日本") == "plain ünïcode 日本")
        #expect(HTML.escape("a&b<c>d\"e'f") == "a&amp;b&lt;c&gt;d&quot;e&#39;f")
        #expect(HTML.escape("é<") == "é&lt;")
    }
}
