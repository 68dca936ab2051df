// Writes metrics in the Prometheus text exposition format, version 0.0.4:
// "# HELP" and "# TYPE" lines per metric family, then one line per sample,
// `name{label="value",...} value [timestamp-ms]`.

public struct PrometheusWriter: Sendable {
    /// The family type named on the "# TYPE" line.
    public enum MetricType: String, Sendable {
        case counter, gauge, histogram, summary, untyped
    }

    /// The Content-Type of a scrape response for this format.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public private(set) var text = ""
    private var families: Set<String> = []

    public init() {}

    /// Starts a metric family with its HELP and TYPE lines. A family must be
    /// written once, before its samples; a repeated family is skipped.
    /// Characters outside `[a-zA-Z0-9_:]` in `name` become "_".
    public mutating func family(_ name: String, type: MetricType, help: String) {
        let name = Self.metricName(name)
        guard families.insert(name).inserted else { return }
        text += "# HELP \(name) \(Self.escapeHelp(help))\n"
        text += "# TYPE \(name) \(type.rawValue)\n"
    }

    /// Writes one sample line. Label names are sanitized like metric names
    /// (no ":"); label values are escaped.
    public mutating func sample(_ name: String, labels: [(String, String)] = [], value: Double,
                                timestampMilliseconds: Int64? = nil)
    {
        text += Self.metricName(name)
        if !labels.isEmpty {
            text += "{"
            text += labels.map { "\(Self.labelName($0.0))=\"\(Self.escapeLabelValue($0.1))\"" }
                .joined(separator: ",")
            text += "}"
        }
        text += " " + Self.formatValue(value)
        if let timestampMilliseconds { text += " \(timestampMilliseconds)" }
        text += "\n"
    }

    public mutating func sample<I: BinaryInteger>(_ name: String, labels: [(String, String)] = [], value: I) {
        sample(name, labels: labels, value: Double(value))
    }

    /// Writes a histogram family: cumulative `_bucket` samples with `le`
    /// (the "+Inf" bucket equal to `count`), `_sum` and `_count`.
    public mutating func histogram(_ name: String, help: String, labels: [(String, String)] = [],
                                   buckets: [(upperBound: Double, cumulativeCount: UInt64)],
                                   sum: Double, count: UInt64)
    {
        family(name, type: .histogram, help: help)
        for bucket in buckets where bucket.upperBound.isFinite {
            sample(name + "_bucket", labels: labels + [("le", Self.formatValue(bucket.upperBound))],
                   value: bucket.cumulativeCount)
        }
        sample(name + "_bucket", labels: labels + [("le", "+Inf")], value: count)
        sample(name + "_sum", labels: labels, value: sum)
        sample(name + "_count", labels: labels, value: count)
    }

    /// The scrape response.
    public var response: HTTPResponse {
        HTTPResponse(status: .ok, headers: ["Content-Type": Self.contentType], body: Array(text.utf8))
    }

    // MARK: - Escaping

    /// Largest magnitude printed as an integer; every integer up to 2^53 is
    /// exact in a Double.
    private static let maxExactInteger = 9_007_199_254_740_992.0

    /// Go's ParseFloat reads all of these: "NaN", "+Inf", "-Inf",
    /// integers, and Swift's shortest round-trip decimal form otherwise.
    static func formatValue(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) <= maxExactInteger { return String(Int64(value)) }
        return "\(value)"
    }

    /// HELP text escapes backslash and line feed.
    static func escapeHelp(_ help: String) -> String {
        help.replacingAll([("\\", "\\\\"), ("\n", "\\n")])
    }

    /// Label values escape backslash, double quote and line feed.
    static func escapeLabelValue(_ value: String) -> String {
        value.replacingAll([("\\", "\\\\"), ("\"", "\\\""), ("\n", "\\n")])
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`, with other characters replaced by "_".
    static func metricName(_ name: String) -> String { sanitize(name, allowColon: true) }

    /// `[a-zA-Z_][a-zA-Z0-9_]*`, with other characters replaced by "_".
    static func labelName(_ name: String) -> String { sanitize(name, allowColon: false) }

    private static func sanitize(_ name: String, allowColon: Bool) -> String {
        var out = ""
        for (index, scalar) in name.unicodeScalars.enumerated() {
            let b = scalar.isASCII ? UInt8(scalar.value) : 0
            let ok = ASCII.isAlpha(b) || b == UInt8(ascii: "_") || (allowColon && b == ASCII.colon)
                || (index > 0 && ASCII.isDigit(b))
            out.unicodeScalars.append(ok ? scalar : "_")
        }
        return out.isEmpty ? "_" : out
    }
}

extension String {
    /// Replaces each Unicode scalar that is a key of `pairs`. Works on
    /// scalars, not Characters, because "\r\n" is one Character.
    fileprivate func replacingAll(_ pairs: [(Unicode.Scalar, String)]) -> String {
        var out = ""
        for scalar in unicodeScalars {
            if let replacement = pairs.first(where: { $0.0 == scalar })?.1 {
                out += replacement
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
