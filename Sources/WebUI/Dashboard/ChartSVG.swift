// Line charts as server-rendered SVG: a polyline over the samples, with a
// y axis labeled at zero, half and the maximum and an x axis labeled in
// minutes before now. No script draws them.

struct ChartSVG {
    /// Canvas size in SVG user units; the CSS scales it to the page width.
    static let width = 480.0
    static let height = 180.0
    /// Room left of the plot for y labels, and below it for x labels.
    static let leftMargin = 48.0
    static let rightMargin = 12.0
    static let topMargin = 12.0
    static let bottomMargin = 28.0

    var id: String
    /// The HistoryReport.Point field plotted, which the dashboard script reads.
    var series: String
    var title: String
    var unit: String
    /// (seconds before now, value), oldest first.
    var points: [(age: Double, value: Double)]
    /// Width of the x axis in seconds.
    var span: Double

    func render() -> String {
        let plotWidth = Self.width - Self.leftMargin - Self.rightMargin
        let plotHeight = Self.height - Self.topMargin - Self.bottomMargin
        let maxValue = Self.niceMaximum(points.map(\.value).max() ?? 0)
        let x0 = Self.leftMargin, y0 = Self.topMargin + plotHeight

        func x(_ age: Double) -> Double { x0 + plotWidth * (1 - min(max(age / span, 0), 1)) }
        func y(_ value: Double) -> Double { y0 - plotHeight * min(max(value / maxValue, 0), 1) }

        var svg = "<svg id=\"\(HTML.escape(id))\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" "
        // The plot geometry, for the dashboard script to redraw the series.
        svg += "data-series=\"\(HTML.escape(series))\" data-span=\"\(Self.format(span))\" "
        svg += "data-plot=\"\(Self.format(x0)) \(Self.format(y0)) \(Self.format(plotWidth)) \(Self.format(plotHeight))\" "
        svg += "viewBox=\"0 0 \(Self.format(Self.width)) \(Self.format(Self.height))\" role=\"img\" "
        svg += "aria-label=\"\(HTML.escape(title))\">\n"
        svg += "<title>\(HTML.escape(title))</title>\n"
        // Axes.
        svg += "<line class=\"axis\" x1=\"\(Self.format(x0))\" y1=\"\(Self.format(Self.topMargin))\" "
        svg += "x2=\"\(Self.format(x0))\" y2=\"\(Self.format(y0))\"/>\n"
        svg += "<line class=\"axis\" x1=\"\(Self.format(x0))\" y1=\"\(Self.format(y0))\" "
        svg += "x2=\"\(Self.format(x0 + plotWidth))\" y2=\"\(Self.format(y0))\"/>\n"
        // Y labels and grid lines at 0, half and the maximum.
        for fraction in [0.0, 0.5, 1.0] {
            let value = maxValue * fraction
            let yy = y(value)
            if fraction > 0 {
                svg += "<line class=\"grid\" x1=\"\(Self.format(x0))\" y1=\"\(Self.format(yy))\" "
                svg += "x2=\"\(Self.format(x0 + plotWidth))\" y2=\"\(Self.format(yy))\"/>\n"
            }
            svg += "<text class=\"label y-label\" data-fraction=\"\(Self.format(fraction))\" "
            svg += "x=\"\(Self.format(x0 - 6))\" y=\"\(Self.format(yy + 4))\" "
            svg += "text-anchor=\"end\">\(HTML.escape(Self.formatValue(value)))</text>\n"
        }
        // X labels every `xLabelStep` seconds, in minutes before now.
        let step = span >= 300 ? 120.0 : 60.0
        var age = 0.0
        while age <= span {
            let label = age == 0 ? "now" : "-\(Int(age / 60)) min"
            svg += "<text class=\"label\" x=\"\(Self.format(x(age)))\" y=\"\(Self.format(y0 + 18))\" "
            svg += "text-anchor=\"middle\">\(label)</text>\n"
            age += step
        }
        svg += "<text class=\"unit\" x=\"\(Self.format(x0 + 4))\" y=\"\(Self.format(Self.topMargin + 10))\">"
        svg += "\(HTML.escape(unit))</text>\n"
        let coordinates = points.map { "\(Self.format(x($0.age))),\(Self.format(y($0.value)))" }
        svg += "<polyline class=\"series\" fill=\"none\" points=\"\(coordinates.joined(separator: " "))\"/>\n"
        svg += "</svg>\n"
        return svg
    }

    /// Rounds a maximum up to 1, 2 or 5 times a power of ten, at least 1,
    /// so that axis labels are short round numbers.
    static func niceMaximum(_ value: Double) -> Double {
        guard value.isFinite, value > 1 else { return 1 }
        var magnitude = 1.0
        while magnitude * 10 <= value { magnitude *= 10 }
        for factor in [1.0, 2.0, 5.0, 10.0] where factor * magnitude >= value { return factor * magnitude }
        return 10 * magnitude
    }

    static func format(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }

    static func formatValue(_ value: Double) -> String {
        if value >= 1_000_000 { return format(value / 1_000_000) + "M" }
        if value >= 1_000 { return format(value / 1_000) + "k" }
        return format(value)
    }
}
