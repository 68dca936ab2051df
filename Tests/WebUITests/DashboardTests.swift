// The server-rendered pages: hostile text is escaped, no page carries
// inline script, event handler or style attributes (CSP default-src
// 'self'), and the charts are SVG polylines with axes. Python's
// html.parser, an independent HTML tokenizer, reads the pages.
import Foundation
import Testing
@testable import WebUI

/// Tokenizes HTML with Python's html.parser and prints one line per finding:
/// "inline-script", "handler|<tag>|<attr>", "style-attr|<tag>", "external|<url>",
/// "text|<data>" for every text node, "tag|<name>|<id>" for every start tag.
private let pageInspector = """
    import sys
    from html.parser import HTMLParser
    class P(HTMLParser):
        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            print("tag|%s|%s" % (tag, a.get("id") or ""))
            if tag == "script" and not a.get("src"):
                print("inline-script")
            for name, value in attrs:
                if name.startswith("on"):
                    print("handler|%s|%s" % (tag, name))
                if name == "style":
                    print("style-attr|%s" % tag)
                if name in ("src", "href", "action") and value and "//" in value:
                    print("external|%s" % value)
            if tag == "style":
                print("style-element")
        def handle_data(self, data):
            if data.strip():
                print("text|%r" % data)
    p = P(convert_charrefs=True)
    p.feed(sys.stdin.read())
    p.close()
    """

private func inspect(_ html: String) throws -> [String] {
    let python = try #require(findExecutable("python3"), "python3 is not installed")
    let result = try runProcess(python, ["-c", pageInspector], input: html)
    #expect(result.status == 0, "python3: \(result.stderr)")
    return result.stdout.split(separator: "\n").map(String.init)
}

@Suite struct DashboardTests {
    private func pages() -> [(String, String)] {
        let app = makeApplication()
        return [
            ("/", app.handle(makeRequest(.GET, "/", headers: [bearer])).bodyText),
            ("/login", app.handle(makeRequest(.GET, "/login")).bodyText),
            ("failed login", app.handle(makeRequest(.POST, "/login", headers: [formType, sameOrigin],
                                                    body: "token=x")).bodyText),
        ]
    }

    @Test func noInlineScriptHandlersOrStyles() throws {
        for (name, html) in pages() {
            let findings = try inspect(html)
            #expect(findings.contains { $0.hasPrefix("tag|html") }, "\(name) did not parse")
            let bad = findings.filter {
                $0 == "inline-script" || $0.hasPrefix("handler|") || $0.hasPrefix("style-attr|")
                    || $0 == "style-element" || $0.hasPrefix("external|")
            }
            #expect(bad.isEmpty, "\(name): \(bad)")
        }
    }

    @Test func hostileServerNameIsEscaped() throws {
        let html = pages()[0].1
        #expect(!html.contains("<script>alert(1)"))
        #expect(!html.contains("<img src=x"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&gt;&lt;img src=x onerror=alert(2)&gt;.example"))
        // The parser reads the hostile name as one text node, not as markup.
        let findings = try inspect(html)
        #expect(findings.contains("text|\(pythonRepr(hostileServerName))"))
        #expect(!findings.contains { $0.hasPrefix("tag|img") })
        #expect(!findings.contains("inline-script"))
    }

    @Test func overviewHasEveryTableAndChart() throws {
        let findings = try inspect(pages()[0].1)
        for id in ["interfaces", "drops", "resources", "neighbors", "connections", "tls-sessions", "certificates",
                   "captures", "chart-packets", "chart-connections", "chart-handshakes"]
        {
            #expect(findings.contains { $0.hasPrefix("tag|") && $0.hasSuffix("|\(id)") }, "missing #\(id)")
        }
        #expect(findings.contains("text|'ESTABLISHED'"))
        #expect(findings.contains("text|'TLS_AES_128_GCM_SHA256'"))
        #expect(findings.contains("text|'bad_checksum'"))
        #expect(findings.contains("text|'1h 2m 5s'"))
    }

    @Test func chartPlotsSamplesOnAxes() {
        let chart = ChartSVG(id: "c", series: "packetsPerSecond", title: "Packets", unit: "packets/s",
                             points: [(age: 600, value: 0), (age: 300, value: 40), (age: 0, value: 80)], span: 600)
        let svg = chart.render()
        // Maximum 80 rounds up to 100; labels at 0, 50 and 100.
        #expect(svg.contains(">100</text>"))
        #expect(svg.contains(">50</text>"))
        #expect(svg.contains(">now</text>"))
        #expect(svg.contains(">-10 min</text>"))
        // Plot area: x from 48 to 468, y from 152 (zero) up to 12 (maximum).
        #expect(svg.contains("points=\"48,152 258,96 468,40\""))
        #expect(ChartSVG.niceMaximum(0) == 1)
        #expect(ChartSVG.niceMaximum(3) == 5)
        #expect(ChartSVG.niceMaximum(1_200) == 2_000)
    }

    @Test func htmlEscapeCoversAttributeQuotes() {
        #expect(HTML.escape("a&b<c>d\"e'f") == "a&amp;b&lt;c&gt;d&quot;e&#39;f")
    }
}

/// Python's repr() of a str made of printable ASCII.
private func pythonRepr(_ text: String) -> String {
    if text.contains("'") && !text.contains("\"") { return "\"\(text)\"" }
    return "'" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
}
