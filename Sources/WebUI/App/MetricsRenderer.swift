// The /metrics scrape: every counter and gauge of the snapshot in the
// Prometheus text format, names prefixed "capnet_", counters suffixed
// "_total", and each bounded gauge followed by its bound as "<name>_limit".

struct MetricsRenderer {
    static let prefix = "capnet_"

    var snapshot: StatusSnapshot
    var history: HistoryReport
    var application: WebApplication.Statistics

    func render() -> PrometheusWriter {
        var w = PrometheusWriter()
        w.family(Self.prefix + "uptime_seconds", type: .gauge, help: "Seconds since the service started.")
        w.sample(Self.prefix + "uptime_seconds", labels: [("version", snapshot.service.version)],
                 value: snapshot.service.uptimeSeconds)
        writeInterfaces(&w)
        writeTransport(&w)
        writeApplication(&w)
        return w
    }

    private func writeInterfaces(_ w: inout PrometheusWriter) {
        let interfaces = snapshot.interfaces
        let basics: [(String, String, (InterfaceStatus) -> UInt64)] = [
            ("frames_received", "Frames received by the interface.", \.receivedFrames),
            ("bytes_received", "Bytes received by the interface, Ethernet header included.", \.receivedBytes),
            ("frames_sent", "Frames sent by the interface.", \.sentFrames),
            ("bytes_sent", "Bytes sent by the interface, Ethernet header included.", \.sentBytes),
        ]
        for (name, help, value) in basics {
            counter(&w, name, help: help, samples: interfaces.map { ([("interface", $0.name)], value($0)) })
        }
        // The other counters, grouped by name across interfaces.
        var order: [String] = []
        var byName: [String: (help: String, samples: [([(String, String)], UInt64)])] = [:]
        for interface in interfaces {
            for reading in interface.counters {
                if byName[reading.name] == nil {
                    order.append(reading.name)
                    byName[reading.name] = (reading.help, [])
                }
                byName[reading.name]!.samples.append(([("interface", interface.name)], reading.value))
            }
        }
        for name in order { counter(&w, name, help: byName[name]!.help, samples: byName[name]!.samples) }

        counter(&w, "drops", help: "Frames dropped, by interface and reason.",
                samples: interfaces.flatMap { i in i.drops.map { ([("interface", i.name), ("reason", $0.reason)], $0.count) } })

        var gaugeOrder: [String] = []
        var gauges: [String: (help: String, samples: [(String, GaugeReading)])] = [:]
        for interface in interfaces {
            for gauge in interface.gauges {
                if gauges[gauge.name] == nil {
                    gaugeOrder.append(gauge.name)
                    gauges[gauge.name] = (gauge.help, [])
                }
                gauges[gauge.name]!.samples.append((interface.name, gauge))
            }
        }
        for name in gaugeOrder {
            let entry = gauges[name]!
            let metric = Self.prefix + name
            w.family(metric, type: .gauge, help: entry.help)
            for (interface, gauge) in entry.samples { w.sample(metric, labels: [("interface", interface)], value: gauge.value) }
            let limited = entry.samples.filter { $0.1.limit != nil }
            if !limited.isEmpty {
                w.family(metric + "_limit", type: .gauge, help: "Bound of: " + entry.help)
                for (interface, gauge) in limited {
                    w.sample(metric + "_limit", labels: [("interface", interface)], value: gauge.limit!)
                }
            }
        }
        gauge(&w, "neighbors", help: "ARP table entries over all interfaces.", value: snapshot.neighbors.count)
    }

    private func writeTransport(_ w: inout PrometheusWriter) {
        let metric = Self.prefix + "tcp_connections"
        w.family(metric, type: .gauge, help: "TCP connections, by RFC 9293 state.")
        for state in TCPStateName.allCases {
            w.sample(metric, labels: [("state", state.rawValue)],
                     value: snapshot.connections.filter { $0.state == state }.count)
        }
        gauge(&w, "tls_sessions", help: "TLS sessions with a completed handshake.", value: snapshot.tlsSessions.count)
        let expiry = Self.prefix + "certificate_not_after_seconds"
        w.family(expiry, type: .gauge, help: "Expiry of each certificate, in seconds since the Unix epoch.")
        for certificate in snapshot.certificates {
            w.sample(expiry, labels: [("subject", certificate.subject), ("source", certificate.source.rawValue)],
                     value: certificate.notAfter.timeIntervalSince1970)
        }
        gauge(&w, "captures_running", help: "Packet captures in progress.",
              value: snapshot.captures.filter(\.running).count)
        if let newest = history.points.last {
            gauge(&w, "packets_per_second", help: "Frames received and sent per second over the last sample interval.",
                  value: newest.packetsPerSecond)
            gauge(&w, "tls_handshakes_per_second", help: "TLS handshakes per second over the last sample interval.",
                  value: newest.handshakesPerSecond)
        }
    }

    private func writeApplication(_ w: inout PrometheusWriter) {
        let s = application
        counter(&w, "web_requests", help: "Requests the Web UI handled.", samples: [([], s.requests)])
        counter(&w, "web_authentication_failures", help: "Requests rejected for a missing or wrong credential.",
                samples: [([], s.authenticationFailures)])
        counter(&w, "web_logins", help: "Successful logins through the login form.", samples: [([], s.logins)])
        counter(&w, "web_csrf_rejections", help: "Form posts rejected because they were not same-origin.",
                samples: [([], s.csrfRejections)])
        gauge(&w, "web_sessions", help: "Browser sessions.", value: s.sessions)
        gauge(&w, "web_sessions_limit", help: "Bound of: Browser sessions.", value: s.sessionsLimit)
        gauge(&w, "history_samples", help: "Samples in the chart history.", value: history.points.count)
        gauge(&w, "history_samples_limit", help: "Bound of: Samples in the chart history.", value: history.maximumSamples)
    }

    private func counter(_ w: inout PrometheusWriter, _ name: String, help: String,
                         samples: [([(String, String)], UInt64)])
    {
        let metric = Self.prefix + name + "_total"
        w.family(metric, type: .counter, help: help)
        for (labels, value) in samples { w.sample(metric, labels: labels, value: value) }
    }

    private func gauge<V: BinaryInteger>(_ w: inout PrometheusWriter, _ name: String, help: String, value: V) {
        gauge(&w, name, help: help, value: Double(value))
    }

    private func gauge(_ w: inout PrometheusWriter, _ name: String, help: String, value: Double) {
        w.family(Self.prefix + name, type: .gauge, help: help)
        w.sample(Self.prefix + name, value: value)
    }
}
