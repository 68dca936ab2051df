// The overview page: service info, charts of the last minutes, and tables
// for interfaces, drops, resources, neighbors, connections, TLS sessions,
// certificates and captures. Rendered on the server; the page reloads
// itself with a meta refresh, so it needs no script.
import Foundation

struct DashboardPage {
    /// Seconds between updates of the overview page: the script fetches
    /// /api/status that often, or without script the page reloads.
    static let updateSeconds = 5
    /// The charts show this many seconds before the newest sample.
    static let chartSpanSeconds = Double(StatusHistory.maximumSamples) * StatusHistory.sampleInterval.seconds

    var snapshot: StatusSnapshot
    var history: HistoryReport
    /// Whether capture control forms are shown.
    var capturesEnabled: Bool
    /// Whether the "Renew now" form for the ACME certificate is shown.
    var renewalEnabled = false

    func render() -> String {
        var body = "<header>\n<h1>capnet</h1>\n"
        body += "<form class=\"logout\" method=\"post\" action=\"/logout\"><button type=\"submit\">Log out</button></form>\n"
        body += "</header>\n<main>\n"
        body += serviceSection()
        body += chartsSection()
        body += section("Interfaces", interfacesTable())
        body += section("Drops", dropsTable())
        body += section("Resources", resourcesTable())
        body += section("Neighbors", neighborsTable())
        body += section("TCP connections", connectionsTable())
        body += section("TLS sessions", tlsTable())
        body += section("Certificates", certificatesTable() + renewalForm())
        body += section("Captures", capturesSection())
        body += "</main>\n"
        body = "<div id=\"dashboard\" data-update-seconds=\"\(Self.updateSeconds)\">\n" + body + "</div>\n"
        return HTML.page(title: "capnet status", body: body, liveUpdateSeconds: Self.updateSeconds)
    }

    private func section(_ title: String, _ content: String) -> String {
        "<section>\n<h2>\(HTML.escape(title))</h2>\n\(content)</section>\n"
    }

    private func serviceSection() -> String {
        let s = snapshot.service
        var out = "<dl class=\"service\">\n"
        let items = [("version", "Version", s.version), ("started", "Started", Self.date(s.startedAt)),
                     ("uptime", "Uptime", Self.duration(s.uptimeSeconds)),
                     ("addresses", "Addresses", s.addresses.isEmpty ? "none" : s.addresses.joined(separator: ", ")),
                     ("snapshot", "Snapshot", Self.date(snapshot.generatedAt))]
        for (id, name, value) in items {
            out += "<div><dt>\(HTML.escape(name))</dt><dd id=\"service-\(id)\">\(HTML.escape(value))</dd></div>\n"
        }
        return out + "</dl>\n"
    }

    private func chartsSection() -> String {
        let points = history.points
        let charts = [
            ChartSVG(id: "chart-packets", series: "packetsPerSecond", title: "Packets per second", unit: "packets/s",
                     points: points.map { ($0.ageSeconds, $0.packetsPerSecond) }, span: Self.chartSpanSeconds),
            ChartSVG(id: "chart-connections", series: "connections", title: "Open TCP connections", unit: "connections",
                     points: points.map { ($0.ageSeconds, Double($0.connections)) }, span: Self.chartSpanSeconds),
            ChartSVG(id: "chart-handshakes", series: "handshakesPerSecond", title: "TLS handshakes per second",
                     unit: "handshakes/s",
                     points: points.map { ($0.ageSeconds, $0.handshakesPerSecond) }, span: Self.chartSpanSeconds),
        ]
        var out = "<section class=\"charts\">\n<h2>Last \(Int(Self.chartSpanSeconds / 60)) minutes</h2>\n"
        for chart in charts {
            out += "<figure>\n<figcaption>\(HTML.escape(chart.title))</figcaption>\n\(chart.render())</figure>\n"
        }
        return out + "</section>\n"
    }

    private func interfacesTable() -> String {
        HTML.table(id: "interfaces",
                   headers: ["Name", "Network", "MAC", "MTU", "Frames in", "Frames out", "Bytes in", "Bytes out",
                             "Drops"],
                   rows: snapshot.interfaces.map {
                       [$0.name, $0.network, $0.hardwareAddress ?? "", "\($0.mtu)", "\($0.receivedFrames)",
                        "\($0.sentFrames)", "\($0.receivedBytes)", "\($0.sentBytes)", "\($0.totalDrops)"]
                   }, empty: "No interfaces")
    }

    private func dropsTable() -> String {
        var rows: [[String]] = []
        for interface in snapshot.interfaces {
            for drop in interface.drops where drop.count > 0 {
                rows.append([interface.name, drop.reason, "\(drop.count)"])
            }
        }
        return HTML.table(id: "drops", headers: ["Interface", "Reason", "Frames"], rows: rows, empty: "No drops")
    }

    private func resourcesTable() -> String {
        var rows: [[String]] = []
        for interface in snapshot.interfaces {
            for gauge in interface.gauges {
                rows.append([interface.name, gauge.help, "\(gauge.value)", gauge.limit.map { "\($0)" } ?? "unbounded"])
            }
        }
        return HTML.table(id: "resources", headers: ["Interface", "Resource", "In use", "Limit"], rows: rows,
                          empty: "No interfaces")
    }

    private func neighborsTable() -> String {
        HTML.table(id: "neighbors", headers: ["Interface", "Address", "MAC", "State", "Expires in", "Queued frames"],
                   rows: snapshot.neighbors.map {
                       [$0.interface, $0.address, $0.hardwareAddress ?? "",
                        $0.state == .resolved ? "resolved" : "incomplete (\($0.requestsSent) requests)",
                        Self.duration($0.expiresInSeconds), "\($0.pendingFrames)"]
                   }, empty: "No neighbors")
    }

    private func connectionsTable() -> String {
        HTML.table(id: "connections",
                   headers: ["Local", "Remote", "State", "SRTT", "cwnd", "Bytes in", "Bytes out"],
                   rows: snapshot.connections.map {
                       [$0.local, $0.remote, $0.state.rawValue,
                        $0.smoothedRTTMilliseconds.map { ChartSVG.format($0) + " ms" } ?? "",
                        "\($0.congestionWindowBytes)", "\($0.bytesReceived)", "\($0.bytesSent)"]
                   }, empty: "No connections")
    }

    private func tlsTable() -> String {
        HTML.table(id: "tls-sessions", headers: ["Remote", "Version", "Cipher suite", "Group", "SNI", "ALPN", "Resumed"],
                   rows: snapshot.tlsSessions.map {
                       [$0.remote, $0.version, $0.cipherSuite, $0.group, $0.serverName ?? "", $0.alpn ?? "",
                        $0.resumed ? "yes" : "no"]
                   }, empty: "No TLS sessions")
    }

    private func renewalForm() -> String {
        guard renewalEnabled else { return "" }
        return "<form class=\"renew-certificate\" method=\"post\" action=\"/api/certificates/renew\">"
            + "<button type=\"submit\">Renew now</button></form>\n"
    }

    private func certificatesTable() -> String {
        HTML.table(id: "certificates",
                   headers: ["Subject", "Issuer", "Serial", "Names", "Not after", "Source", "ACME", "Next renewal",
                             "Last error"],
                   rows: snapshot.certificates.map {
                       [$0.subject, $0.issuer, $0.serialNumber ?? "", $0.subjectAlternativeNames.joined(separator: ", "),
                        Self.date($0.notAfter),
                        $0.source.rawValue, Self.acmeState($0.acme), $0.acme?.nextRenewal.map(Self.date) ?? "",
                        $0.acme?.lastError ?? ""]
                   }, empty: "No certificates")
    }

    private func capturesSection() -> String {
        let headers = capturesEnabled ? ["Name", "Size (bytes)", "State", "Actions"] : ["Name", "Size (bytes)", "State"]
        var out = "<table id=\"captures\">\n<thead><tr>"
        for header in headers { out += "<th scope=\"col\">\(header)</th>" }
        out += "</tr></thead>\n<tbody>\n"
        if snapshot.captures.isEmpty {
            out += "<tr><td class=\"empty\" colspan=\"\(headers.count)\">No captures</td></tr>\n"
        }
        for capture in snapshot.captures {
            let name = HTML.escape(capture.name)
            let state = capture.running ? "running" : capture.stopReason.map { "stopped: " + HTML.escape($0) } ?? "stopped"
            out += "<tr><td>\(name)</td><td>\(capture.sizeBytes)</td><td>\(state)</td>"
            if capturesEnabled {
                // The name passed CaptureName validation, but it is escaped and
                // percent-encoded anyway because it is peer-supplied text.
                let path = HTML.escape(Self.pathSegment(capture.name))
                out += "<td>"
                if capture.running {
                    out += "<form method=\"post\" action=\"/api/captures/\(path)/stop\"><button type=\"submit\">Stop</button></form>"
                } else {
                    out += "<a href=\"/api/captures/\(path)\" download=\"\(name)\">Download</a>"
                }
                out += "</td>"
            }
            out += "</tr>\n"
        }
        out += "</tbody>\n</table>\n"
        if capturesEnabled {
            out += "<form class=\"start-capture\" method=\"post\" action=\"/api/captures\">\n"
            out += "<label for=\"capture-name\">New capture</label>\n"
            out += "<input id=\"capture-name\" name=\"name\" required maxlength=\"\(CaptureName.maximumLength)\" "
            out += "pattern=\"[A-Za-z0-9_\\-][A-Za-z0-9_.\\-]*\">\n"
            out += "<button type=\"submit\">Start</button>\n</form>\n"
        }
        return out
    }

    // MARK: - Formatting

    /// Formats `date` as RFC 3339 UTC with whole seconds, such as
    /// 2026-12-04T23:49:00Z. Written out by hand: creating an
    /// ISO8601DateFormatter per date took a quarter of the page's CPU.
    static func date(_ date: Date) -> String {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let days = floorDivide(seconds, HTTPDate.secondsPerDay)
        let (year, month, day) = HTTPDate.civilDate(daysSinceEpoch: days)
        let time = Int(seconds - days * HTTPDate.secondsPerDay)
        return "\(digits(year, 4))-\(digits(month, 2))-\(digits(day, 2))T"
            + "\(digits(time / 3600, 2)):\(digits(time / 60 % 60, 2)):\(digits(time % 60, 2))Z"
    }

    /// `value` in decimal, left-padded with zeros to `width` digits.
    private static func digits(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(max(0, seconds).rounded())
        let (days, hours, minutes, rest) = (total / 86_400, total / 3_600 % 24, total / 60 % 60, total % 60)
        if days > 0 { return "\(days)d \(hours)h \(minutes)m" }
        if hours > 0 { return "\(hours)h \(minutes)m \(rest)s" }
        if minutes > 0 { return "\(minutes)m \(rest)s" }
        return "\(rest)s"
    }

    static func acmeState(_ acme: ACMEStatus?) -> String {
        guard let acme else { return "not managed" }
        switch acme.state {
        case .issuing: return "issuing"
        case .valid: return acme.validUntil.map { "valid until " + date($0) } ?? "valid"
        case .failed: return "failed"
        }
    }

    /// Percent-encodes everything outside the unreserved set (RFC 3986 §2.3).
    static func pathSegment(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            let unreserved = ASCII.isAlpha(byte) || ASCII.isDigit(byte) || byte == UInt8(ascii: "-")
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "~")
            out += unreserved ? String(UnicodeScalar(byte)) : String(format: "%%%02X", byte)
        }
        return out
    }
}
